/**
 * Turns a file's bytes into a title and plain text: gzip is unpacked (Debian ships docs and
 * man pages gzipped), HTML loses its markup, man pages their troff requests, and binary files
 * are refused.
 */
import { gunzipSync } from "node:zlib";
import { basename } from "node:path";
import { parseDocument, textOf } from "../_html.ts";

/** Text extracted from one file. */
export interface ExtractedText {
  /** The document's title: an HTML `<title>`, a man page's NAME line, a Markdown heading... */
  title: string;
  /** Its plain text, markup removed. */
  body: string;
}

/** True when the bytes look binary: a NUL in the first 8 KiB, as git and grep decide. */
export function looksBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 8192).includes(0);
}

/** Title and text of an HTML page, without scripts, styles and navigation chrome. */
export function htmlToText(html: string): ExtractedText {
  const document = parseDocument(html);
  const title = textOf(document.querySelector("title")) || textOf(document.querySelector("h1"));
  for (const tag of document.querySelectorAll("script, style, noscript, template, svg")) {
    (tag as unknown as { remove(): void }).remove();
  }
  return { title, body: textOf(document.querySelector("body") ?? document) };
}

/**
 * Plain text of a troff man page: the NAME line becomes the title (`ls - list directory
 * contents`), requests and font escapes go.
 */
export function manToText(source: string, fallbackTitle: string): ExtractedText {
  const lines: string[] = [];
  let title = "";
  let inName = false;
  for (const raw of source.split("\n")) {
    if (raw.startsWith('.\\"') || raw.startsWith("'\\\"")) continue;
    const request = raw.match(/^[.'][ \t]*([A-Za-z]{1,3})\b[ \t]*(.*)$/);
    let text = raw;
    if (request) {
      const [, name, rest] = request;
      if (name === "SH" || name === "Sh") {
        inName = /^"?NAME"?$/i.test(rest.trim());
        lines.push(rest.replace(/"/g, ""));
        continue;
      }
      // Requests that carry text (.B, .I, .BR, .IR, .TP tags ...) keep it; the rest are layout.
      text = /^(B|I|BR|BI|IB|IR|RB|RI|SM|SB|Nm|Nd|Ar|Fl|Op)$/.test(name)
        ? rest.replace(/"/g, "")
        : "";
    }
    text = text.replace(/\\f(\[[^\]]*\]|\(..|.)/g, "").replace(/\\\(em|\\\(en/g, "-")
      .replace(/\\[-&|^%]/g, (m) => (m === "\\-" ? "-" : "")).replace(/\\\(../g, " ")
      .replace(/\\[*n]\(?..?/g, "").replace(/\\e/g, "\\").replace(/\\ /g, " ");
    if (!text.trim()) continue;
    if (inName && !title) title = text.trim();
    lines.push(text);
  }
  return { title: title || fallbackTitle, body: lines.join("\n") };
}

/** A text file's title: its first Markdown heading, else its first non-empty line. */
function textTitle(text: string, fallback: string): string {
  const heading = text.match(/^#{1,3}[ \t]+(.+)$/m)?.[1];
  if (heading) return heading.trim().slice(0, 200);
  const first = text.split("\n").find((line) => line.trim().length > 2);
  return (first?.trim() ?? fallback).slice(0, 200) || fallback;
}

/**
 * Extracts a file's text, or returns undefined when the file is binary or empty.
 *
 * @example
 * ```ts
 * import { extractText } from "@a3s/search";
 * const text = extractText("/tmp/a.md", new TextEncoder().encode("# Hello\nworld"));
 * console.log(text?.title); // "Hello"
 * ```
 */
export function extractText(path: string, bytes: Uint8Array): ExtractedText | undefined {
  let name = basename(path);
  let data = bytes;
  if (name.endsWith(".gz")) {
    try {
      data = gunzipSync(bytes);
    } catch {
      return undefined;
    }
    name = name.slice(0, -3);
  }
  if (!data.length || looksBinary(data)) return undefined;
  const text = new TextDecoder().decode(data);
  if (/\.x?html?$/i.test(name) || /^\s*<(!doctype html|html)/i.test(text)) {
    const page = htmlToText(text);
    return { title: page.title || name, body: page.body };
  }
  const isMan = /\/man\d?[a-z]*\/|\.[1-9][a-z]*$/.test(path) && /^[.'](TH|Dd|\\")/m.test(text);
  if (isMan) return manToText(text, name);
  return { title: textTitle(text, name), body: text };
}
