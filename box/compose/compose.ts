/**
 * `box compose up|down|ps|config`: runs a {@linkcode ComposeProject} as boxes. Each project
 * gets a bridged network `<project>_default` (plus its declared networks, `<project>_<name>`),
 * where services reach each other by service name; named volumes become `<project>_<name>`;
 * services with `build` are built first; boxes are named `<project>-<service>-1` and started
 * in dependency order.
 */
import { isAbsolute, join } from "node:path";
import { A3sError, NotFoundError } from "@a3s/common";
import type { BoxInfo, BoxManager } from "../manager.ts";
import { ImageBuilder } from "../builder/builder.ts";
import type { VolumeMount } from "../types.ts";
import type { ComposeProject, ComposeService } from "./compose_file.ts";
import { parsePublish } from "../network/port_forwarder.ts";

/** The box name of a service. */
export function serviceBoxName(project: ComposeProject, service: ComposeService): string {
  return service.containerName ?? `${project.name}-${service.name}-1`;
}

function networkName(project: ComposeProject, network: string): string {
  return `${project.name}_${network}`;
}

async function existing(boxes: BoxManager, name: string): Promise<BoxInfo | undefined> {
  return await boxes.inspect(name).catch((error) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
}

/** Creates networks and volumes, builds images, and starts every service not running yet. */
export async function composeUp(
  boxes: BoxManager,
  project: ComposeProject,
  projectDir: string,
  log: (line: string) => void = () => {},
): Promise<BoxInfo[]> {
  for (const network of ["default", ...project.networks]) {
    const name = networkName(project, network);
    if (!(await boxes.networks.list()).some((n) => n.name === name)) {
      await boxes.networks.create(name);
      log(`Network ${name} created`);
    }
  }
  const started: BoxInfo[] = [];
  for (const service of project.services) {
    const boxName = serviceBoxName(project, service);
    const current = await existing(boxes, boxName);
    if (current?.state === "running") {
      log(`Box ${boxName} running`);
      started.push(current);
      continue;
    }
    if (current) await boxes.remove(current.id, true);
    let image = service.image;
    if (service.build) {
      const context = isAbsolute(service.build.context)
        ? service.build.context
        : join(projectDir, service.build.context);
      image = service.image ?? `${project.name}-${service.name}:latest`;
      await new ImageBuilder(boxes).build({
        contextDir: context,
        dockerfile: service.build.dockerfile ? join(context, service.build.dockerfile) : undefined,
        tags: [image],
        log,
      });
    }
    const volumes: VolumeMount[] = service.volumes.map((spec) => {
      const [source, target, mode] = spec.split(":");
      const named = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source);
      return {
        host: named
          ? `${project.name}_${source}`
          : isAbsolute(source)
          ? source
          : join(projectDir, source),
        guest: target,
        readOnly: mode === "ro",
      };
    });
    const { info } = await boxes.run({
      image: image!,
      name: boxName,
      entrypoint: service.entrypoint,
      command: service.command,
      env: service.environment,
      workdir: service.workingDir,
      user: service.user,
      hostname: service.hostname ?? service.name,
      volumes,
      networks: (service.networks.length ? service.networks : ["default"]).map((n) =>
        networkName(project, n)
      ),
      networkAliases: [service.name],
      publish: service.ports.map((port) =>
        parsePublish(port.includes(":") ? port : `${port}:${port}`)
      ),
    });
    log(`Box ${boxName} started`);
    started.push(info);
  }
  return started;
}

/** The project's boxes, in start order (missing ones left out). */
export async function composePs(boxes: BoxManager, project: ComposeProject): Promise<BoxInfo[]> {
  const out: BoxInfo[] = [];
  for (const service of project.services) {
    const info = await existing(boxes, serviceBoxName(project, service));
    if (info) out.push(info);
  }
  return out;
}

/** Removes the project's boxes (reverse order) and networks; named volumes only with `volumes`. */
export async function composeDown(
  boxes: BoxManager,
  project: ComposeProject,
  options: { volumes?: boolean; log?: (line: string) => void } = {},
): Promise<void> {
  const log = options.log ?? (() => {});
  for (const service of [...project.services].reverse()) {
    const info = await existing(boxes, serviceBoxName(project, service));
    if (!info) continue;
    if (info.state === "running") await boxes.stop(info.id, 5);
    await boxes.remove(info.id, true);
    log(`Box ${info.name} removed`);
  }
  for (const network of ["default", ...project.networks]) {
    const name = networkName(project, network);
    if (!(await boxes.networks.list()).some((n) => n.name === name)) continue;
    await boxes.networks.remove(name);
    log(`Network ${name} removed`);
  }
  if (options.volumes) {
    for (const volume of project.volumes) {
      const name = `${project.name}_${volume}`;
      await boxes.volumes.remove(name, await boxes.volumeUsers(name).catch(() => []))
        .catch((error) => {
          if (!(error instanceof NotFoundError)) throw error;
        });
    }
  }
}

/** Fails early when a service's image is neither here nor buildable. */
export async function checkImages(boxes: BoxManager, project: ComposeProject): Promise<void> {
  for (const service of project.services) {
    if (service.build || !service.image) continue;
    await boxes.images.resolve(service.image).catch((error) => {
      if (!(error instanceof NotFoundError)) throw error;
      throw new A3sError(
        "image_missing",
        `compose file: services.${service.name}.image: no such image '${service.image}' (pull it first)`,
        { status: 400, field: `services.${service.name}.image` },
      );
    });
  }
}
