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
  const dir = new URL("./deploy/kubernetes/", import.meta.url);
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
  assert(!allows("", "secrets", "list"), "no secret access until TLS secrets are used");
  assertEquals(all.find((m) => m.kind === "IngressClass")!.metadata.name, "a3s");
});
