/**
 * `a3s token create|ls|revoke`: manage the API tokens `serve` accepts. Tokens are stored
 * hashed in the configured store (the data dir's SQLite file, or `--database-url`); the plain
 * token is printed once, by `create`.
 */
import {
  FORMAT_OPTIONS,
  outputFormat,
  parseCommand,
  printFormatted,
  renderTable,
  runCommand,
} from "./cli.ts";
import { loadConfig } from "./config.ts";
import { UsageError } from "./errors.ts";
import { openStore } from "./store.ts";
import { scopeSchema } from "./security/scopes.ts";
import { type TokenInfo, TokenStore } from "./security/tokens.ts";

const HELP = `Usage: a3s token <command> [options]

Commands:
  create             make a token and print it once (store it now: it cannot be shown again)
  ls                 list tokens: id, name, scopes, created, last used, revoked
  revoke ID          revoke a token; serve refuses it within a second

Options:
  --scope SCOPE      for create, repeatable: admin, <module>:read|write|exec or <module>:*
                     (default admin), for example --scope power:read --scope power:write
  --name NAME        for create: a label for the token (default its id)
  --format FORMAT    json or table (default table); --json is short for --format json
  --home DIR         data dir (env A3S_HOME)
  --database-url URL PostgreSQL instead of the data dir's SQLite (env A3S_DATABASE_URL)
  --config FILE      JSON config file (env A3S_CONFIG)
  -h, --help         show this help

Send a token as 'Authorization: Bearer <token>' or 'x-api-key: <token>'.`;

function table(tokens: TokenInfo[]): string {
  const header = ["ID", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED"];
  const rows = tokens.map((t) => [
    t.id,
    t.name,
    t.scopes.join(","),
    t.createdAt,
    t.lastUsedAt ?? "-",
    t.revokedAt ?? "-",
  ]);
  return renderTable(header, rows, "no tokens");
}

/** Runs the `token` command; returns its exit code. */
export function main(args: string[]): Promise<number> {
  return runCommand(async () => {
    const { values, positionals } = parseCommand(args, {
      scope: { type: "string", multiple: true },
      name: { type: "string" },
      ...FORMAT_OPTIONS,
      home: { type: "string" },
      "database-url": { type: "string" },
      config: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const [command, id, ...extra] = positionals;
    if (command !== "create" && command !== "ls" && command !== "revoke") {
      throw new UsageError(
        command === undefined
          ? "missing command: create, ls or revoke ID"
          : `unknown command '${command}'; run with --help`,
      );
    }
    if (command === "revoke" && id === undefined) throw new UsageError("revoke needs the token ID");
    if (command !== "revoke" && id !== undefined) {
      throw new UsageError(`'${command}' takes no arguments, got '${id}'`);
    }
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const format = outputFormat(values);
    const scopes = (values.scope as string[] | undefined) ?? [];
    if (command !== "create" && (scopes.length || values.name !== undefined)) {
      throw new UsageError(`--scope and --name are for 'create' only`);
    }
    for (const scope of scopes) {
      const checked = scopeSchema.safeParse(scope);
      if (!checked.success) {
        throw new UsageError(`--scope '${scope}' ${checked.error.issues[0].message}`);
      }
    }
    const config = loadConfig({
      flags: { home: values.home, databaseUrl: values["database-url"], config: values.config },
    });
    const store = await openStore({ home: config.home, databaseUrl: config.databaseUrl });
    try {
      const tokens = await TokenStore.open(store);
      const print = (value: unknown, text: string) => printFormatted(format, value, () => text);
      if (command === "create") {
        const created = await tokens.create({
          name: values.name as string | undefined,
          scopes: scopes.length ? scopes : ["admin"],
        });
        print(
          created,
          `${created.token}\n\nid ${created.id}, scopes ${
            created.scopes.join(",")
          }. This is the only time the token is shown.`,
        );
      } else if (command === "ls") {
        const list = await tokens.list();
        print(list, table(list));
      } else {
        const revoked = await tokens.revoke(id!);
        print(revoked, `revoked ${revoked.id} (${revoked.name})`);
      }
    } finally {
      await store.close();
    }
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
