import { assertEquals } from "@a3s/common/testing";
import { redactBox, redactCommand, redactDetail, redactEnv, redactText } from "./_redact.ts";

Deno.test("redact: each finding becomes its type, the rest of the line stays readable", () => {
  assertEquals(redactText("ls -la /tmp"), "ls -la /tmp");
  assertEquals(redactCommand(["sh", "-c", "echo password=hunter2correcthorse"]), [
    "sh",
    "-c",
    "echo password=[SECRET]",
  ]);
  const bearer = "sk-proj-abcdefghijklmnop1234567890ABCD";
  assertEquals(redactCommand(["curl", "-H", `Authorization: Bearer ${bearer}`, "http://x"]), [
    "curl",
    "-H",
    "Authorization: Bearer [SECRET]",
    "http://x",
  ]);
  assertEquals(redactCommand(["echo", "ada@example.org", "4111 1111 1111 1111"]), [
    "echo",
    "[EMAIL]",
    "[CREDIT_CARD]",
  ]);
  assertEquals(redactCommand(["sleep", "60"]), ["sleep", "60"]);
});

Deno.test("redact: environments by value and by a credential's name; other fields exact", () => {
  assertEquals(redactEnv({ API_TOKEN: "x1", HOME: "/root", EMPTY_PASSWORD: "" }), {
    API_TOKEN: "[SECRET]",
    HOME: "/root",
    EMPTY_PASSWORD: "",
  });
  assertEquals(
    redactDetail({ command: ["echo", "ada@example.org"], name: "web", exitCode: 0 }),
    { command: ["echo", "[EMAIL]"], name: "web", exitCode: 0 },
  );
  assertEquals(redactDetail({ command: null, user: "root" }), { command: null, user: "root" });
  assertEquals(redactDetail({ env: { DB_PASSWORD: "x" } }), { env: { DB_PASSWORD: "[SECRET]" } });
  assertEquals(redactBox({ id: "b1", command: ["echo", "ada@example.org"] }), {
    id: "b1",
    command: ["echo", "[EMAIL]"],
  });
  assertEquals(redactBox({ command: [], env: { PATH: "/bin", GITHUB_TOKEN: "t" } }), {
    command: [],
    env: { PATH: "/bin", GITHUB_TOKEN: "[SECRET]" },
  });
});

Deno.test("redact: what a command is made of stays (addresses, URLs, SSH remotes); secrets go", () => {
  const command = [
    "sh",
    "-c",
    "git clone git@github.com:org/repo && curl -s http://10.0.0.7:8080/x -p 0.0.0.0:80 " +
    "--data password=hunter2-very-secret",
  ];
  const shown = redactCommand(command).join(" ");
  for (const kept of ["git@github.com:org/repo", "http://10.0.0.7:8080/x", "0.0.0.0:80"]) {
    assertEquals(shown.includes(kept), true, shown);
  }
  assertEquals(shown.includes("hunter2-very-secret"), false, shown);
});
