import { assert, assertEquals } from "@a3s/common/testing";
import { parseAllDocuments } from "yaml";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: { controller?: string };
}

async function manifests(): Promise<Manifest[]> {
  const dir = new URL("../deploy/kubernetes/gateway/", import.meta.url);
  const out: Manifest[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    for (const doc of parseAllDocuments(text)) {
      if ("errors" in doc && doc.errors.length) {
        throw new Error(`${entry.name}: ${doc.errors[0].message}`);
      }
      out.push(doc.toJS() as Manifest);
    }
  }
  return out;
}

Deno.test("the deploy manifests are well-formed and grant exactly what the controller calls", async () => {
  const all = await manifests();
  for (const m of all) assert(m.apiVersion && m.kind && m.metadata?.name, JSON.stringify(m));
  const kinds = all.map((m) => m.kind).sort();
  assertEquals(kinds, [
    "ClusterRole",
    "ClusterRoleBinding",
    "Deployment",
    "IngressClass",
    "Namespace",
    "Service",
    "ServiceAccount",
  ]);
  const role = all.find((m) => m.kind === "ClusterRole")!;
  const allows = (group: string, resource: string, verb: string) =>
    role.rules!.some((r) =>
      r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb)
    );
  assert(allows("networking.k8s.io", "ingresses", "list"));
  assert(allows("networking.k8s.io", "ingresses", "watch"));
  assert(allows("networking.k8s.io", "ingresses/status", "patch"));
  assert(allows("discovery.k8s.io", "endpointslices", "list"));
  assert(allows("discovery.k8s.io", "endpointslices", "watch"));
  for (const resource of ["services", "secrets"]) {
    assert(allows("", resource, "list") && allows("", resource, "watch"), resource);
  }
  assert(allows("networking.k8s.io", "ingressclasses", "watch"));
  assert(
    !allows("", "secrets", "create") && !allows("", "secrets", "update"),
    "secrets: read only",
  );
  assertEquals(all.find((m) => m.kind === "IngressClass")!.spec?.controller, "a3s.dev/gateway");
  assertEquals(all.find((m) => m.kind === "IngressClass")!.metadata.name, "a3s");
});

/** API discovery documents: what kubectl asks before a client-side dry run. */
function discovery(): Record<string, unknown> {
  const resources = (groupVersion: string, list: [string, string, boolean][]) => ({
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion,
    resources: list.map(([name, kind, namespaced]) => ({
      name,
      singularName: "",
      namespaced,
      kind,
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    })),
  });
  const groups = ["apps", "rbac.authorization.k8s.io", "networking.k8s.io"];
  return {
    "/api": { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] },
    "/apis": {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: groups.map((name) => ({
        name,
        versions: [{ groupVersion: `${name}/v1`, version: "v1" }],
        preferredVersion: { groupVersion: `${name}/v1`, version: "v1" },
      })),
    },
    "/api/v1": resources("v1", [
      ["namespaces", "Namespace", false],
      ["services", "Service", true],
      ["serviceaccounts", "ServiceAccount", true],
    ]),
    "/apis/apps/v1": resources("apps/v1", [["deployments", "Deployment", true]]),
    "/apis/rbac.authorization.k8s.io/v1": resources("rbac.authorization.k8s.io/v1", [
      ["clusterroles", "ClusterRole", false],
      ["clusterrolebindings", "ClusterRoleBinding", false],
    ]),
    "/apis/networking.k8s.io/v1": resources("networking.k8s.io/v1", [
      ["ingressclasses", "IngressClass", false],
      ["ingresses", "Ingress", true],
    ]),
  };
}

Deno.test("kubectl apply --dry-run=client accepts the manifests (discovery from a local server)", async () => {
  const found = await new Deno.Command("kubectl", {
    args: ["version", "--client"],
    stdout: "null",
    stderr: "null",
  })
    .output().then((o) => o.success, () => false);
  if (!found) {
    console.log("SKIPPED: kubectl is not installed (apt-get install kubectl)");
    return;
  }
  const documents = discovery();
  // Objects do not exist yet: every GET of one is a 404, so kubectl plans a create.
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
        new URL("../deploy/kubernetes/gateway/", import.meta.url).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { KUBECONFIG: "/dev/null" },
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertEquals(text.trim().split("\n").filter((l) => l.endsWith("created (dry run)")).length, 7);
  } finally {
    await api.shutdown();
  }
});
