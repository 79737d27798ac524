/** The built-in web engine adapters, by name. */
import type { EngineAdapter } from "../engine.ts";
import { baidu } from "./baidu.ts";
import { bingChina } from "./bing_china.ts";
import { brave } from "./brave.ts";
import { duckduckgo } from "./duckduckgo.ts";
import { google } from "./google.ts";
import { searxng } from "./searxng.ts";
import { so360 } from "./so360.ts";
import { sogou } from "./sogou.ts";
import { wikipedia } from "./wikipedia.ts";

/** Every web adapter: the eight engines of upstream a3s-search, and SearXNG's JSON API. */
export const WEB_ENGINES: Readonly<Record<string, EngineAdapter>> = Object.fromEntries(
  [duckduckgo, brave, wikipedia, sogou, so360, google, baidu, bingChina, searxng].map((e) => [
    e.name,
    e,
  ]),
);

export { baidu, bingChina, brave, duckduckgo, google, searxng, so360, sogou, wikipedia };
