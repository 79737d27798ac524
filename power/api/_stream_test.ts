import { assert, assertEquals } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { ndjson, sse } from "./_stream.ts";

/** A stream that writes one value and then fails with `error`. */
function failing(error: unknown) {
  return async (write: (value: unknown) => void) => {
    write({ step: 1 });
    await Promise.resolve();
    throw error;
  };
}

Deno.test("errors after a stream starts go through the one renderer: no internal detail leaks", async () => {
  const internal = new Error("ENOENT: /home/someone/.a3s/models/x/onnx/model.onnx");
  const ollama = await ndjson(failing(internal), new AbortController()).text();
  const lines = ollama.trim().split("\n").map((line) => JSON.parse(line));
  assertEquals(lines, [{ step: 1 }, { error: "internal server error" }]);

  const openai = await sse(failing(internal), new AbortController()).text();
  assert(!openai.includes("/home/someone"), openai);
  const events = openai.trim().split("\n\n");
  const error = JSON.parse(events[1].slice("data: ".length)).error;
  assertEquals(error.message, "internal server error");
  assertEquals(error.type, "server_error");
});

Deno.test("a streamed 429 keeps its type and a 400 keeps its field", async () => {
  const limited = new A3sError("rate_limited", "too many requests", { status: 429 });
  const events = (await sse(failing(limited), new AbortController()).text()).trim().split("\n\n");
  const error = JSON.parse(events[1].slice("data: ".length)).error;
  assertEquals(error.type, "rate_limit_error");
  assertEquals(error.code, "rate_limited");

  const invalid = new A3sError("invalid_request", "format: bad", { status: 400, field: "format" });
  const openai = (await sse(failing(invalid), new AbortController()).text()).trim().split("\n\n");
  assertEquals(JSON.parse(openai[1].slice("data: ".length)).error.param, "format");
  const ollama = (await ndjson(failing(invalid), new AbortController()).text()).trim();
  assertEquals(JSON.parse(ollama.split("\n")[1]), { error: "format: bad" });
});
