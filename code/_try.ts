import { Agent } from "./mod.ts";
const agent = await Agent.fromConfig({
  workspace: "/tmp/pw",
  default_model: "power/a3s-default",
  providers: [{ name: "power", base_url: "http://127.0.0.1:18555/v1", models: [{ id: "a3s-default", context_window: 512, max_tokens: 64, temperature: 0 }] }],
  tools: { enabled: ["read", "write", "bash"] },
  max_steps: 3,
});
for (const p of Deno.args) {
  const s = agent.session();
  const t0 = performance.now();
  const calls: string[] = [];
  let text = "";
  for await (const e of s.stream(p)) {
    if (e.type === "tool_end") calls.push(`${e.tool} -> ${e.output.slice(0, 60).replaceAll("\n", " ")}`);
    if (e.type === "done") text = e.result.text.slice(0, 100).replaceAll("\n", " ");
  }
  console.log(`${p} | ${calls.join(" ; ")} | ${text} | ${Math.round(performance.now() - t0)}ms`);
}
await agent.close();
