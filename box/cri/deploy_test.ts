/**
 * The Kubernetes manifests for box (`deploy/kubernetes/box/`): well-formed, running `box cri` the
 * way the node needs it, and accepted by a real `kubectl apply --dry-run=client`. kubectl asks the
 * API server's discovery documents first; a local server answers them in the API's own format,
 * since no cluster is reachable here.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { parseAllDocuments } from "yaml";

const DIR = new URL("../../deploy/kubernetes/box/", import.meta.url);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  handler?: string;
  spec?: {
    template: {
      spec: {
        hostNetwork?: boolean;
        containers: {
          command: string[];
          securityContext?: { privileged?: boolean };
          volumeMounts: { mountPath: string }[];
        }[];
      };
    };
  };
}

async function manifests(): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.name.endsWith(".yaml")) continue;
    for (const doc of parseAllDocuments(await Deno.readTextFile(new URL(entry.name, DIR)))) {
      if ("errors" in doc && doc.errors.length) {
        throw new Error(`${entry.name}: ${doc.errors[0].message}`);
      }
      out.push(doc.toJS() as Manifest);
    }
  }
  return out;
}

Deno.test("box manifests: a RuntimeClass and a DaemonSet serving the CRI socket on the node", async () => {
  const all = await manifests();
  assertEquals(all.map((m) => m.kind).sort(), ["DaemonSet", "RuntimeClass", "RuntimeClass"]);
  // The two handlers the CRI maps: namespace boxes, and one VM per pod.
  const handlers = all.filter((m) => m.kind === "RuntimeClass").map((m) => m.handler).sort();
  assertEquals(handlers, ["a3s-box", "a3s-box-vm"]);
  const pod = all.find((m) => m.kind === "DaemonSet")!.spec!.template.spec;
  // The kubelet reaches the streaming server on the node's loopback: host network.
  assertEquals(pod.hostNetwork, true);
  const [container] = pod.containers;
  assert(container.securityContext?.privileged, "boxes need bubblewrap, cgroups and ip netns");
  const command = container.command.join(" ");
  assert(command.includes("box cri --listen unix:///run/a3s/box.sock"), command);
  const mounts = container.volumeMounts.map((m) => m.mountPath);
  for (const path of ["/run", "/var/log/pods", "/sys/fs/cgroup"]) {
    assert(mounts.includes(path), `${path} is not mounted: ${mounts}`);
  }
});

Deno.test("kubectl apply --dry-run=client accepts box's manifests", async () => {
  const found = await new Deno.Command("kubectl", {
    args: ["version", "--client"],
    stdout: "null",
    stderr: "null",
  }).output().then((o) => o.success, () => false);
  if (!found) {
    console.log("SKIPPED: kubectl is not installed (apt-get install kubectl)");
    return;
  }
  const resources = (groupVersion: string, name: string, kind: string, namespaced: boolean) => ({
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion,
    resources: [{
      name,
      singularName: "",
      namespaced,
      kind,
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    }],
  });
  const documents: Record<string, unknown> = {
    "/api": { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] },
    "/apis": {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: ["apps", "node.k8s.io"].map((name) => ({
        name,
        versions: [{ groupVersion: `${name}/v1`, version: "v1" }],
        preferredVersion: { groupVersion: `${name}/v1`, version: "v1" },
      })),
    },
    "/api/v1": { kind: "APIResourceList", apiVersion: "v1", groupVersion: "v1", resources: [] },
    "/apis/apps/v1": resources("apps/v1", "daemonsets", "DaemonSet", true),
    "/apis/node.k8s.io/v1": resources("node.k8s.io/v1", "runtimeclasses", "RuntimeClass", false),
  };
  // No object exists yet: every GET of one is a 404, so kubectl plans a create.
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const body = documents[new URL(request.url).pathname];
    return body
      ? Response.json(body)
      : Response.json({ kind: "Status", code: 404 }, { status: 404 });
  });
  try {
    const out = await new Deno.Command("kubectl", {
      args: [
        "apply",
        "--dry-run=client",
        // Schema validation would fetch the full OpenAPI document, which only a real server has.
        "--validate=false",
        `--server=http://127.0.0.1:${api.addr.port}`,
        "-f",
        DIR.pathname,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { KUBECONFIG: "/dev/null" },
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assertEquals(lines.sort(), [
      "daemonset.apps/a3s-box-cri created (dry run)",
      "runtimeclass.node.k8s.io/a3s-box created (dry run)",
      "runtimeclass.node.k8s.io/a3s-box-vm created (dry run)",
    ]);
  } finally {
    await api.shutdown();
  }
});
