/** Reading the gateway's config file for a command: a bad file is bad input (exit code 2). */
import { UsageError } from "@a3s/common/errors";
import { GatewayConfigError, loadGatewayConfigFile } from "./config_file.ts";

/** The config in `file`, for the command `what`; a bad or missing file is a usage error. */
export async function loadConfigFile(file: string | undefined, what: string) {
  if (!file) throw new UsageError(`${what} needs a config file`);
  try {
    return await loadGatewayConfigFile(file);
  } catch (error) {
    // A bad file is bad input: one line, exit code 2.
    if (error instanceof GatewayConfigError) throw new UsageError(error.message);
    throw error;
  }
}
