/**
 * Whether a model runs on this machine. Data that may not leave the machine (a chat whose
 * level only a local model may see, secrets under `tool_output = "mask_remote"`) may only go
 * to such a model.
 */
import { isLoopbackUrl } from "@a3s/common";
import type { AgentConfig } from "../config/schema.ts";

/**
 * True when `modelRef` (`provider/model`) is served on this machine: power in process (the
 * `power` provider with no URL) or a provider on a loopback address. A provider the config
 * does not declare counts as remote, so an unknown destination is never trusted.
 *
 * @example
 * ```ts ignore
 * modelIsLocal(agent.config, agent.config.default_model); // true for power in process
 * ```
 */
export function modelIsLocal(config: AgentConfig, modelRef: string): boolean {
  // A ref without a provider names a model of the first declared provider (or power).
  const providerName = modelRef.includes("/")
    ? modelRef.slice(0, modelRef.indexOf("/"))
    : config.providers[0]?.name ?? "power";
  const provider = config.providers.find((p) => p.name === providerName);
  if (!provider) {
    // power needs no provider block: it is then reached at A3S_POWER_URL, by default this host.
    return providerName === "power" && isLocalUrl(Deno.env.get("A3S_POWER_URL"));
  }
  if (!provider.base_url) return providerName === "power";
  return isLocalUrl(provider.base_url);
}

/** True for an unset URL (the local default) or one on a loopback host. */
function isLocalUrl(url: string | undefined): boolean {
  return url === undefined || isLoopbackUrl(url);
}
