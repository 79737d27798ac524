import { assertEquals } from "@a3s/common/testing";
import { editJsonStrings } from "./proxy_reply.ts";

const upper = (s: string) => Promise.resolve(s.replaceAll("ada", 'A"D\\A'));

Deno.test("editJsonStrings edits every string of JSON arguments and keeps them valid JSON", async () => {
  const args = JSON.stringify({ to: ["ada@x.org"], note: { ada: "hi ada" }, n: 3, ok: true });
  const edited = await editJsonStrings(args, upper);
  assertEquals(JSON.parse(edited), {
    to: ['A"D\\A@x.org'],
    note: { 'A"D\\A': 'hi A"D\\A' },
    n: 3,
    ok: true,
  });
});

Deno.test("editJsonStrings edits text that is not JSON as one string, and leaves unchanged text as it came", async () => {
  assertEquals(await editJsonStrings("mail ada now", upper), 'mail A"D\\A now');
  const spaced = '{ "cmd" :  "ls" }';
  assertEquals(await editJsonStrings(spaced, upper), spaced);
});
