/** Reading a command's input text from a file or stdin. */
import { fileReadError, readStdin } from "@a3s/common/run-command";

/** The text of `file`, or all of stdin when no file is given or it is `-`. */
export async function readInput(file: string | undefined): Promise<string> {
  if (file === undefined || file === "-") return await readStdin();
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    throw fileReadError(error, file);
  }
}
