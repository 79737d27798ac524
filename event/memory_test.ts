import { providerContract } from "./_contract.ts";
import { MemoryProvider } from "./providers/memory.ts";

providerContract("memory", () => Promise.resolve(new MemoryProvider()));
