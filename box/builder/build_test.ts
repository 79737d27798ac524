/**
 * `box build` against real boxes: a multi-stage Dockerfile whose RUN steps execute in
 * namespace boxes, COPY from the context and from a stage, .dockerignore, the layer cache, and
 * a push of the result to a real `docker-registry`.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { A3sError, ValidationError } from "@a3s/common";
import { openNamespaceBoxes, startRegistry, type TestHome } from "../_test_support.ts";
import type { BoxManager } from "../manager.ts";
import { RegistryClient } from "../image/registry.ts";
import { ImageBuilder } from "./builder.ts";
import { parseDockerfile } from "./dockerfile.ts";
import { DockerIgnore } from "./dockerignore.ts";

const MULTI_STAGE = `# a small two-stage build
ARG GREETING=hello
FROM busybox AS builder
ARG GREETING
ENV OUT=/out
WORKDIR /work
RUN mkdir -p $OUT && echo "$GREETING from the builder" > $OUT/message \\
 && rm -f /bin/vi
COPY src/ ./src/
COPY notes.txt .
RUN cat src/a.txt >> $OUT/message && test -f /work/notes.txt

FROM busybox
LABEL org.example.stage=final version="1.0"
ENV GREETING_FILE=/app/message
COPY --from=builder /out/message /app/message
COPY notes.txt /app/
WORKDIR /app
EXPOSE 8080
USER 0:0
CMD ["sh", "-c", "cat $GREETING_FILE; ls /app; test -e /app/secret.txt || echo no-secret"]
`;

async function withBuilder(
  body: (
    boxes: BoxManager,
    builder: ImageBuilder,
    context: string,
    home: TestHome,
  ) => Promise<void>,
) {
  const { home, boxes } = await openNamespaceBoxes();
  const context = join(home.home, "context");
  await Deno.mkdir(join(context, "src"), { recursive: true });
  await Deno.writeTextFile(join(context, "src", "a.txt"), "line from a.txt\n");
  await Deno.writeTextFile(join(context, "notes.txt"), "notes\n");
  await Deno.writeTextFile(join(context, "secret.txt"), "do not ship\n");
  await Deno.writeTextFile(join(context, ".dockerignore"), "secret.txt\n*.log\n");
  await Deno.writeTextFile(join(context, "Dockerfile"), MULTI_STAGE);
  try {
    await body(boxes, new ImageBuilder(boxes), context, home);
  } finally {
    for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
    boxes.close();
    await home.close();
  }
}

async function runImage(boxes: BoxManager, image: string): Promise<string> {
  const { info } = await boxes.run({ image });
  await boxes.wait(info.id);
  let text = "";
  for await (const chunk of boxes.logs(info.id)) text += new TextDecoder().decode(chunk.data);
  await boxes.remove(info.id, true);
  return text;
}

const canBuild = Deno.uid() === 0 && (await new Deno.Command("bwrap", { args: ["--version"] })
  .output().then((o) => o.success).catch(() => false));

Deno.test({
  name: "build: a multi-stage Dockerfile runs, caches and pushes",
  ignore: !canBuild,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withBuilder(async (boxes, builder, context) => {
      const cold = await builder.build({
        contextDir: context,
        tags: ["app:1"],
        buildArgs: { GREETING: "hi" },
      });
      const layerSteps = cold.steps.filter((s) => s.layer);
      assert(layerSteps.length >= 4, "RUN and COPY steps add layers");
      assert(layerSteps.every((s) => !s.cached), "a cold build caches nothing");

      const image = await boxes.images.inspect("app:1");
      assertEquals(image.config.config?.WorkingDir, "/app");
      assertEquals(image.config.config?.Labels, { "org.example.stage": "final", version: "1.0" });
      assertEquals(image.config.config?.ExposedPorts, { "8080/tcp": {} });
      assert(image.config.config?.Env?.includes("GREETING_FILE=/app/message"));
      assert(image.config.history?.some((h) => h.empty_layer), "config steps are in the history");

      const output = await runImage(boxes, "app:1");
      assertEquals(
        output,
        "hi from the builder\nline from a.txt\nmessage\nnotes.txt\nno-secret\n",
      );

      // The same build again: every layer comes from the cache, and no box runs.
      const before = (await boxes.events()).filter((e) => e.action === "create").length;
      const warm = await builder.build({
        contextDir: context,
        tags: ["app:2"],
        buildArgs: { GREETING: "hi" },
      });
      assert(warm.steps.filter((s) => s.layer).every((s) => s.cached), "warm build is cached");
      assertEquals((await boxes.events()).filter((e) => e.action === "create").length, before);

      // A changed context file invalidates its COPY and everything after it in that stage.
      await Deno.writeTextFile(join(context, "src", "a.txt"), "changed\n");
      const changed = await builder.build({
        contextDir: context,
        tags: ["app:3"],
        buildArgs: { GREETING: "hi" },
      });
      const copy = changed.steps.find((s) => s.instruction.startsWith("COPY src/"))!;
      assertEquals(copy.cached, false);
      assertEquals(
        await runImage(boxes, "app:3"),
        "hi from the builder\nchanged\nmessage\nnotes.txt\nno-secret\n",
      );

      // A RUN that deleted a file leaves a whiteout in its layer, which removes it.
      const builderStage = await builder.build({
        contextDir: context,
        target: "builder",
        tags: ["stage:builder"],
        buildArgs: { GREETING: "hi" },
      });
      assert(builderStage.steps.every((s) => !s.layer || s.cached));
      const check = await boxes.run({
        image: "stage:builder",
        command: ["sh", "-c", "test -e /bin/vi && echo vi || echo no-vi; pwd"],
      });
      await boxes.wait(check.info.id);
      let text = "";
      for await (const chunk of boxes.logs(check.info.id)) {
        text += new TextDecoder().decode(chunk.data);
      }
      assertEquals(text, "no-vi\n/work\n");

      // The result is a proper OCI image: a real registry accepts it, and it pulls back.
      const registry = await startRegistry();
      if (!registry) {
        console.log("SKIPPED push: docker-registry is not installed");
        return;
      }
      try {
        const client = new RegistryClient(boxes.images);
        const target = `${registry.host}/demo/app:1`;
        const pushed = await client.push("app:1", target);
        assertEquals(pushed, cold.imageId);
        const manifest = await fetch(`http://${registry.host}/v2/demo/app/manifests/1`, {
          headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
        });
        assertEquals(manifest.status, 200);
        assertEquals(
          manifest.headers.get("docker-content-digest"),
          cold.imageId,
        );
        await manifest.body?.cancel();
      } finally {
        await registry.close();
      }
    });
  },
});

Deno.test({
  name: "build: a failing RUN names its line; bad Dockerfiles are 4xx naming the line",
  ignore: !canBuild,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withBuilder(async (_boxes, builder, context) => {
      const error = await assertRejects(
        () =>
          builder.build({
            contextDir: context,
            dockerfileText: "FROM busybox\n\nRUN echo partial; exit 3\n",
          }),
        A3sError,
      );
      assertEquals(
        error.message,
        "Dockerfile line 3: 'RUN echo partial; exit 3' returned exit code 3",
      );
      assertEquals(error.status, 422);
      await assertRejects(
        () =>
          builder.build({
            contextDir: context,
            dockerfileText: "FROM busybox\nCOPY missing.txt /\n",
          }),
        ValidationError,
        "Dockerfile line 2: COPY source missing.txt not found",
      );
      await assertRejects(
        () =>
          builder.build({
            contextDir: context,
            dockerfileText: "FROM busybox\nCOPY secret.txt /\n",
          }),
        ValidationError,
        "not found",
      );
      // A context symlink that points outside the context resolves inside it, not on the host.
      await Deno.symlink("/etc/hostname", join(context, "escape"));
      await assertRejects(
        () =>
          builder.build({ contextDir: context, dockerfileText: "FROM busybox\nCOPY escape /x\n" }),
        ValidationError,
        "not found",
      );
    });
  },
});

Deno.test("dockerfile: continuations, comments, flags, forms and errors with line numbers", () => {
  const steps = parseDockerfile(
    'ARG V=1\nfrom busybox as b\n# comment\nRUN echo a \\\n  # inside\n  && echo b\nCOPY --from=b --chown=1:2 /x /y\nCMD ["sh"]\nENTRYPOINT echo hi\n',
  );
  assertEquals(steps.map((s) => [s.name, s.line]), [
    ["ARG", 1],
    ["FROM", 2],
    ["RUN", 4],
    ["COPY", 7],
    ["CMD", 8],
    ["ENTRYPOINT", 9],
  ]);
  assertEquals(steps[2].raw, "echo a   && echo b");
  assertEquals(steps[3].flags, { from: "b", chown: "1:2" });
  assertEquals(steps[4].json, ["sh"]);
  assertEquals(steps[5].json, undefined);
  const unknown = (() => {
    try {
      parseDockerfile("FROM busybox\nRUN true\nFROBNICATE x\n");
    } catch (error) {
      return error as ValidationError;
    }
  })();
  assertEquals(unknown?.message, "Dockerfile line 3: unknown instruction 'FROBNICATE'");
  assertEquals(unknown?.field, "dockerfile");
});

Deno.test("dockerignore: last match wins, negation, ** and directories", () => {
  const ignore = new DockerIgnore("# c\n*.log\n!keep.log\nbuild/\n**/tmp\n");
  assertEquals(ignore.ignores("a.log"), true);
  assertEquals(ignore.ignores("keep.log"), false);
  assertEquals(ignore.ignores("build/out/x"), true);
  assertEquals(ignore.ignores("src/deep/tmp/file"), true);
  assertEquals(ignore.ignores("src/a.ts"), false);
});
