import { FrameError } from "./error.ts";
import {
  type CodecOptions,
  DEFAULT_MAX_PAYLOAD,
  type FrameLayout,
  headerSize,
  MAX_PAYLOAD_LIMIT,
} from "./frame.ts";

/** Codec options checked once, in the shape the WebAssembly calls take. */
export interface ResolvedOptions {
  maxPayload: number;
  layout: FrameLayout;
  layoutCode: number;
  header: number;
}

export function _resolveOptions(options: CodecOptions = {}): ResolvedOptions {
  const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > MAX_PAYLOAD_LIMIT) {
    throw new FrameError(
      "invalid_option",
      `maxPayload must be an integer from 0 to ${MAX_PAYLOAD_LIMIT}, got ${maxPayload}`,
      { field: "maxPayload" },
    );
  }
  const layout = options.layout ?? "stream";
  if (layout !== "stream" && layout !== "compact") {
    throw new FrameError("invalid_option", `layout must be "stream" or "compact"`, {
      field: "layout",
    });
  }
  return {
    maxPayload,
    layout,
    layoutCode: layout === "compact" ? 1 : 0,
    header: headerSize(layout),
  };
}
