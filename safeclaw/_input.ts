/** Reading a command's input text from a file or stdin. */
import { readStdin } from "@a3s/common/run-command";
import { UsageError } from "@a3s/common/errors";

/** The text of `file`, or all of stdin when no file is given. */
export async function readInput(file: string | undefined): Promise<string> {
  if (file === undefined) return await readStdin();
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new UsageError(`no such file '${file}'`);
    throw error;
  }
}
