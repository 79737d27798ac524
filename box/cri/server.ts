/**
 * `box cri --listen unix:///run/a3s/box.sock`: the CRI `runtime.v1` RuntimeService and
 * ImageService over gRPC (`@grpc/grpc-js`, the protobuf loaded by `@grpc/proto-loader`), backed
 * by {@linkcode CriRuntime}. `Exec`, `Attach` and `PortForward` hand out URLs on a
 * {@linkcode StreamingServer} started beside it. Errors map to gRPC codes the kubelet acts on: NOT_FOUND,
 * INVALID_ARGUMENT, FAILED_PRECONDITION, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNIMPLEMENTED; each message
 * names the request field that was wrong.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { A3sError, NotFoundError, ValidationError } from "@a3s/common";
import type { CriRuntime } from "./cri_runtime.ts";
import type { CriImageService } from "./cri_images.ts";
import { StreamingServer } from "./streaming_server.ts";

/** The protobuf file the server and its tests load. */
export const CRI_PROTO: string = fileURLToPath(new URL("./runtime_v1.proto", import.meta.url));

/** Loader options shared by server and clients: field names as in the .proto, int64 as strings. */
export const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
};

/** A generated gRPC service: its definition and a client constructor. */
export interface ServiceClientConstructor {
  /** What `Server.addService` takes. */
  service: grpc.ServiceDefinition;
  /** A client of the service at `address` (`unix:///path`). */
  new (address: string, credentials: grpc.ChannelCredentials): grpc.Client;
}

/** The RuntimeService and ImageService definitions. */
export function loadCriServices(): {
  RuntimeService: ServiceClientConstructor;
  ImageService: ServiceClientConstructor;
} {
  const definition = protoLoader.loadSync(CRI_PROTO, PROTO_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    runtime: {
      v1: { RuntimeService: ServiceClientConstructor; ImageService: ServiceClientConstructor };
    };
  };
  return loaded.runtime.v1;
}

function toServiceError(error: unknown): grpc.ServiceError {
  let code = grpc.status.UNKNOWN;
  if (error instanceof NotFoundError) code = grpc.status.NOT_FOUND;
  else if (error instanceof ValidationError) code = grpc.status.INVALID_ARGUMENT;
  else if (error instanceof A3sError) {
    code = error.code === "deadline_exceeded"
      ? grpc.status.DEADLINE_EXCEEDED
      : error.code === "unimplemented"
      ? grpc.status.UNIMPLEMENTED
      : error.status === 429
      ? grpc.status.RESOURCE_EXHAUSTED
      : error.status === 409
      ? grpc.status.FAILED_PRECONDITION
      : error.status < 500
      ? grpc.status.INVALID_ARGUMENT
      : grpc.status.INTERNAL;
  }
  // The kubelet shows only the message: it names the request field that was wrong.
  const text = error instanceof Error ? error.message : String(error);
  const field = error instanceof A3sError ? error.field : undefined;
  const message = field && !text.includes(field) ? `${field}: ${text}` : text;
  return Object.assign(new Error(message), {
    code,
    details: message,
    metadata: new grpc.Metadata(),
  });
}

type Handler = (request: never) => unknown;

function unary(handler: Handler): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    Promise.resolve().then(() => handler(call.request as never)).then(
      (response) => callback(null, response),
      (error) => callback(toServiceError(error)),
    );
  };
}

/** A running CRI server. */
export interface CriServer {
  /** The address it listens on (`unix:///path`). */
  address: string;
  /** The streaming server's base URL (`http://127.0.0.1:PORT`), where exec URLs point. */
  streamingUrl: string;
  /** Stops the runtime's log copies and new calls; resolves once the calls in flight finished. */
  close(): Promise<void>;
}

/** Options for {@linkcode serveCri}. */
export interface ServeCriOptions {
  /** `host:port` the streaming server listens on; `127.0.0.1:0` (a free port) when unset. */
  streamAddress?: string;
}

/**
 * Serves `runtime` on a unix socket (`unix:///path`); a stale socket file is replaced. The
 * streaming server for `Exec`, `Attach` and `PortForward` listens on `options.streamAddress`.
 *
 * @example
 * ```ts
 * import { openStore } from "@a3s/common";
 * import { CriRuntime, openBoxRuntime, serveCri } from "@a3s/box";
 * const store = await openStore({ sqlitePath: ":memory:" });
 * const boxes = await openBoxRuntime({ store, home: "/tmp/a3s" });
 * const server = await serveCri(new CriRuntime(boxes, "/tmp/a3s"), "unix:///tmp/a3s/box.sock");
 * await server.close();
 * ```
 */
export async function serveCri(
  runtime: CriRuntime,
  address: string,
  options: ServeCriOptions = {},
): Promise<CriServer> {
  if (!address.startsWith("unix://")) {
    throw new ValidationError(`--listen must be unix:///path, got '${address}'`, "listen");
  }
  const path = address.slice("unix://".length);
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await Deno.remove(path).catch(() => {});
  const services = loadCriServices();
  const streaming = await StreamingServer.listen(runtime, { address: options.streamAddress });
  const server = new grpc.Server();
  server.addService(services.RuntimeService.service, {
    Version: unary(() => runtime.version()),
    Status: unary(() => runtime.status()),
    RunPodSandbox: unary((r: Parameters<CriRuntime["runPodSandbox"]>[0]) =>
      runtime.runPodSandbox(r)
    ),
    StopPodSandbox: unary((r: { pod_sandbox_id: string }) => runtime.stopPodSandbox(r)),
    RemovePodSandbox: unary((r: { pod_sandbox_id: string }) => runtime.removePodSandbox(r)),
    PodSandboxStatus: unary((r: { pod_sandbox_id: string }) => runtime.podSandboxStatus(r)),
    ListPodSandbox: unary((r: Parameters<CriRuntime["listPodSandbox"]>[0]) =>
      runtime.listPodSandbox(r)
    ),
    CreateContainer: unary((r: Parameters<CriRuntime["createContainer"]>[0]) =>
      runtime.createContainer(r)
    ),
    StartContainer: unary((r: { container_id: string }) => runtime.startContainer(r)),
    StopContainer: unary((r: { container_id: string; timeout: string }) =>
      runtime.stopContainer(r)
    ),
    RemoveContainer: unary((r: { container_id: string }) => runtime.removeContainer(r)),
    ListContainers: unary((r: Parameters<CriRuntime["listContainers"]>[0]) =>
      runtime.listContainers(r)
    ),
    ContainerStatus: unary((r: { container_id: string }) => runtime.containerStatus(r)),
    ContainerStats: unary((r: { container_id: string }) => runtime.containerStats(r)),
    ListContainerStats: unary((r: Parameters<CriRuntime["listContainerStats"]>[0]) =>
      runtime.listContainerStats(r)
    ),
    ExecSync: unary((r: Parameters<CriRuntime["execSync"]>[0]) => runtime.execSync(r)),
    ReopenContainerLog: unary((r: { container_id: string }) => runtime.reopenContainerLog(r)),
    UpdateContainerResources: unary((r: Parameters<CriRuntime["updateContainerResources"]>[0]) =>
      runtime.updateContainerResources(r)
    ),
    // Box has no CNI: the pod CIDR is accepted and there is nothing to reconfigure.
    UpdateRuntimeConfig: unary(() => ({})),
    Exec: unary((r: Parameters<StreamingServer["exec"]>[0]) => streaming.exec(r)),
    Attach: unary((r: Parameters<StreamingServer["attach"]>[0]) => streaming.attach(r)),
    PortForward: unary((r: Parameters<StreamingServer["portForward"]>[0]) =>
      streaming.portForward(r)
    ),
  });
  const images = runtime.images;
  server.addService(services.ImageService.service, {
    ListImages: unary((r: Parameters<CriImageService["listImages"]>[0]) => images.listImages(r)),
    ImageStatus: unary((r: Parameters<CriImageService["imageStatus"]>[0]) => images.imageStatus(r)),
    PullImage: unary((r: Parameters<CriImageService["pullImage"]>[0]) => images.pullImage(r)),
    RemoveImage: unary((r: Parameters<CriImageService["removeImage"]>[0]) => images.removeImage(r)),
    ImageFsInfo: unary(() => images.imageFsInfo()),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error) => {
      if (error) reject(error);
      else resolve();
    })
  ).catch(async (error) => {
    await streaming.close();
    throw error;
  });
  await Deno.chmod(path, 0o660);
  return {
    address,
    streamingUrl: streaming.baseUrl,
    close: async () => {
      runtime.close();
      await streaming.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}
