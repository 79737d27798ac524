/** Runs the gateway CLI as its own process, as `deno run -A mod.ts gateway ...` would. */
import { main } from "../cli.ts";

Deno.exit(await main(Deno.args));
