/**
 * Whether a model runs on this machine. Data that may not leave the machine (a chat whose
 * level only a local model may see, secrets under `tool_output = "mask_remote"`) may only go
 * to such a model.
 */
import { isLoopbackUrl } from "@a3s/common";
import { A3sError } from "@a3s/common/errors";
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

/**
 * A model call refused because the session's data may only go to a model on this machine
 * (a chat at or above safeclaw's local-only level) and the model runs elsewhere.
 *
 * @example
 * ```ts ignore
 * const error = new LocalOnlyError("cloud/big");
 * console.log(error.code); // "local_only"
 * ```
 */
export class LocalOnlyError extends A3sError {
  /** Refuses `model` (`provider/model`), a model off this machine; `what` names the caller (`subagent x`). */
  constructor(readonly model: string, what?: string) {
    super(
      "local_only",
      `${
        what ? `${what}: ` : ""
      }model '${model}' runs off this machine, and this conversation's data may only go to a local model; nothing was sent to it`,
      { status: 403, field: "model" },
    );
    this.name = "LocalOnlyError";
  }
}
