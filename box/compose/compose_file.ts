/**
 * The Compose file subset box runs: `services` with `image` or `build`, `command`,
 * `environment`, `ports`, `volumes`, `depends_on`, `networks`, plus top-level `networks` and
 * `volumes`. One zod schema validates it; an error names the key (`services.web.image`), and
 * keys outside the subset are refused rather than silently ignored.
 */
import { parse } from "yaml";
import { z } from "zod";
import { ValidationError } from "@a3s/common";
import { splitWords } from "../builder/dockerfile.ts";

const stringList = z.array(z.string());
const keyValues = z.union([
  z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  stringList,
]);

const ServiceSchema = z.object({
  image: z.string().optional(),
  build: z.union([
    z.string(),
    z.object({ context: z.string().default("."), dockerfile: z.string().optional() }).strict(),
  ]).optional(),
  command: z.union([z.string(), stringList]).optional(),
  entrypoint: z.union([z.string(), stringList]).optional(),
  environment: keyValues.optional(),
  ports: z.array(z.union([z.string(), z.number()])).optional(),
  volumes: stringList.optional(),
  depends_on: z.union([stringList, z.record(z.string(), z.unknown())]).optional(),
  networks: z.union([stringList, z.record(z.string(), z.unknown())]).optional(),
  working_dir: z.string().optional(),
  user: z.string().optional(),
  hostname: z.string().optional(),
  container_name: z.string().optional(),
}).strict();

/** The Compose file schema (the subset box supports). */
export const ComposeFileSchema = z.object({
  version: z.string().optional(),
  name: z.string().optional(),
  services: z.record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/), ServiceSchema),
  networks: z.record(z.string(), z.union([z.object({}).passthrough(), z.null()])).optional(),
  volumes: z.record(z.string(), z.union([z.object({}).passthrough(), z.null()])).optional(),
}).strict();

/** One service, normalized. */
export interface ComposeService {
  /** The service's key under `services:`. */
  name: string;
  /** The image to run; with `build`, the tag the built image gets. */
  image?: string;
  /** The build context and Dockerfile, when the service builds its image. */
  build?: { context: string; dockerfile?: string };
  /** Replaces the image's Cmd; a string form is split into words. */
  command?: string[];
  /** Replaces the image's Entrypoint; a string form is split into words. */
  entrypoint?: string[];
  /** Environment variables, from the list (`KEY=VALUE`) or the map form. */
  environment: Record<string, string>;
  /** Published ports, `[HOST:]BOX[/tcp]`. */
  ports: string[];
  /** Mounts, `SOURCE:TARGET[:ro]`; a bare-name source is one of the project's volumes. */
  volumes: string[];
  /** The services that start before this one. */
  dependsOn: string[];
  /** The project networks the service joins. */
  networks: string[];
  /** The working directory (`working_dir`). */
  workingDir?: string;
  /** The user to run as. */
  user?: string;
  /** The hostname the box sees. */
  hostname?: string;
  /** The box name (`container_name`), instead of one made from the project and service. */
  containerName?: string;
}

/** A Compose project, normalized: services in start order (dependencies first). */
export interface ComposeProject {
  /** The project name: the file's `name` or the default, lower-cased, other characters dropped. */
  name: string;
  /** The services, dependencies first. */
  services: ComposeService[];
  /** The networks the file declares. */
  networks: string[];
  /** The named volumes the file declares. */
  volumes: string[];
}

function fail(path: readonly PropertyKey[], message: string): ValidationError {
  const key = path.map(String).join(".");
  return new ValidationError(`compose file: ${key ? `${key}: ` : ""}${message}`, key || "compose");
}

function words(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? splitWords(value, 0) : value;
}

function names(value: string[] | Record<string, unknown> | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : Object.keys(value);
}

/**
 * Parses and validates a Compose file.
 *
 * @example
 * ```ts
 * import { parseComposeFile } from "@a3s/box";
 * const project = parseComposeFile("services:\n  web:\n    image: busybox\n", "demo");
 * console.log(project.services[0].name); // "web"
 * ```
 */
export function parseComposeFile(text: string, defaultName: string): ComposeProject {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw fail([], `not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  const parsed = ComposeFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path;
    throw fail(path, issue.code === "unrecognized_keys" ? "not supported" : issue.message);
  }
  const file = parsed.data;
  const declaredNetworks = Object.keys(file.networks ?? {});
  const declaredVolumes = Object.keys(file.volumes ?? {});
  const services = new Map<string, ComposeService>();
  for (const [name, service] of Object.entries(file.services)) {
    if (!service.image && !service.build) {
      throw fail(["services", name], "needs image or build");
    }
    const environment: Record<string, string> = {};
    if (Array.isArray(service.environment)) {
      for (const entry of service.environment) {
        const eq = entry.indexOf("=");
        if (eq <= 0) {
          throw fail(["services", name, "environment"], `expected KEY=VALUE, got '${entry}'`);
        }
        environment[entry.slice(0, eq)] = entry.slice(eq + 1);
      }
    } else {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        environment[key] = value === null ? "" : String(value);
      }
    }
    const networks = names(service.networks);
    for (const network of networks) {
      if (!declaredNetworks.includes(network)) {
        throw fail(["services", name, "networks"], `network '${network}' is not declared`);
      }
    }
    for (const [i, volume] of (service.volumes ?? []).entries()) {
      const source = volume.split(":")[0];
      if (volume.split(":").length < 2) {
        throw fail(["services", name, "volumes", i], "expected SOURCE:TARGET[:ro]");
      }
      if (/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source) && !declaredVolumes.includes(source)) {
        throw fail(["services", name, "volumes", i], `volume '${source}' is not declared`);
      }
    }
    for (const [i, port] of (service.ports ?? []).entries()) {
      if (!/^(\d+:)?\d+(\/tcp)?$/.test(String(port))) {
        throw fail(["services", name, "ports", i], `expected HOST:BOX, got '${port}'`);
      }
    }
    services.set(name, {
      name,
      image: service.image,
      build: typeof service.build === "string" ? { context: service.build } : service.build,
      command: words(service.command),
      entrypoint: words(service.entrypoint),
      environment,
      ports: (service.ports ?? []).map(String),
      volumes: service.volumes ?? [],
      dependsOn: names(service.depends_on),
      networks,
      workingDir: service.working_dir,
      user: service.user,
      hostname: service.hostname,
      containerName: service.container_name,
    });
  }
  // Start order: every service after what it depends on; a cycle names where it closes.
  const ordered: ComposeService[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, from: string[]) => {
    const service = services.get(name);
    if (!service) throw fail(["services", from.at(-1)!, "depends_on"], `unknown service '${name}'`);
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      throw fail(["services", from.at(-1)!, "depends_on"], `dependency cycle through '${name}'`);
    }
    state.set(name, "visiting");
    for (const dependency of service.dependsOn) visit(dependency, [...from, name]);
    state.set(name, "done");
    ordered.push(service);
  };
  for (const name of services.keys()) visit(name, []);
  return {
    name: (file.name ?? defaultName).toLowerCase().replace(/[^a-z0-9_-]/g, ""),
    services: ordered,
    networks: declaredNetworks,
    volumes: declaredVolumes,
  };
}
