/**
 * The WebChat page in headless Chromium, against a real `serve` whose default agent answers:
 * the browser loads the page, sends a message over its WebSocket, safeclaw checks it and queues
 * it in the chat's lane, the agent runs a command in a box, and the sanitized reply streams
 * into the page. The agent's model is a scripted OpenAI-compatible server on a free port.
 */
import { join } from "node:path";
import { assert } from "@a3s/common/testing";
import { scriptedOpenAiServer } from "./_testing/servers.ts";
import type { ScriptedReply } from "./llm/scripted.ts";
import { spawnServe, waitReady } from "../tests/_serve.ts";
import { makeTestHomeDir, removeTestHome } from "../box/_test_home_teardown.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});
const KEY = "AKIAQWERTYUIOPASDFGH";
const OTHER_EMAIL = "bob.jones@corp-internal.com";
/** Prints the key without holding it: only the command's output carries it. */
const COMMAND = `echo "host=$(hostname)"; echo "leaked ${KEY.slice(0, 8)}""${KEY.slice(8)}"`;

function scriptedModel(body: Record<string, unknown>): ScriptedReply {
  const messages = body.messages as { role: string; content?: string | null }[];
  const last = messages[messages.length - 1];
  if (last.role === "tool") {
    return { text: `The box said: ${last.content} Ask ${OTHER_EMAIL}, key ${KEY}.` };
  }
  return { toolCalls: [{ name: "bash", arguments: { command: COMMAND } }] };
}

Deno.test({
  name:
    "WebChat in headless Chromium → safeclaw → lane → agent running bash in a box → sanitized reply in the page",
  ignore: CHROMIUM === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { chromium } = await import("playwright-core");
    const home = await makeTestHomeDir("a3sb-webchat-agent-");
    const model = scriptedOpenAiServer(scriptedModel);
    await Deno.writeTextFile(
      join(home, "agent.hcl"),
      `name = "helper"
default_model = "scripted/m"
workspace = "${join(home, "workspace")}"
max_steps = 3
providers {
  name = "scripted"
  base_url = "${model.url}"
  models {
    id = "m"
  }
}
tools {
  enabled = ["bash"]
}
box {
  driver = "box"
  image = "busybox:latest"
}
`,
    );
    await Deno.writeTextFile(
      join(home, "config.json"),
      JSON.stringify({
        code: { agents: { helper: join(home, "agent.hcl") }, default_agent: "helper" },
      }),
    );
    const serve = await spawnServe([], { A3S_HOME: home, A3S_LOG_LEVEL: "warn" });
    try {
      await waitReady(serve.url, 90_000);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--headless=new"],
      });
      try {
        const page = await browser.newPage();
        await page.goto(`${serve.url}/`);
        await page.waitForSelector("#status:has-text('connected')", { timeout: 30_000 });
        await page.fill("#text", "Run the command hostname and tell me what it printed.");
        await page.click("#send");
        const reply = await page.waitForSelector(".msg.bot[data-done='true']", {
          timeout: 60_000,
        }).catch(async (error) => {
          const shown = await page.locator("body").innerText();
          throw new Error(`${error}\npage: ${shown}\nserve: ${serve.logs().slice(-3000)}`);
        });
        const text = (await reply.textContent()) ?? "";
        const host = /host=(\S+)/.exec(text)?.[1];
        assert(host && host !== Deno.hostname(), `the command did not run in a box: ${text}`);
        assert(text.includes("leaked *****"), `the tool output was not masked: ${text}`);
        assert(!text.includes(KEY) && !text.includes(OTHER_EMAIL), `unsanitized reply: ${text}`);
        assert(!JSON.stringify(model.bodies).includes(KEY), "the key reached the model");
      } finally {
        await browser.close();
      }
    } finally {
      await serve.stop();
      await model.close();
      // The boxes the agent ran leave cgroups outside the home; this takes them too.
      removeTestHome(home);
    }
  },
});
