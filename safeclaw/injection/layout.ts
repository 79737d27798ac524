/**
 * What the learned classifier reads of a document: its content, without the names of its
 * metadata fields. An e-mail's `From:`, `Subject:` and `Received:` names, an HTTP or MIME
 * part's `Content-Type:`, an export's `EMAIL_FROM:` and a code fence's language tag say what
 * kind of document this is, not what it asks for; a model trained where attacks were hidden in
 * e-mails learns to flag the layout itself (removing BIPIA's header line took a clean e-mail's
 * score from 0.92 to 0.33, see `model/MODEL_CARD.md`). The field values stay: a subject line
 * that says "ignore your instructions" is still read, and the rules still see the whole text.
 * Validated with `model/dev_eval.ts --without-field-names` and not shipped (a wash on the
 * validation splits, see the model card): the shipped judge lets the models read the text as
 * written.
 */

/**
 * The words message header names are built from: RFC 5322 and its trace fields, MIME
 * (RFC 2045, 2183), the mailing-list fields (RFC 2369, 2919), HTTP's common fields, and the
 * prefixes exports put before them (`EMAIL_FROM`, `Mail-Date`). A field name counts as
 * metadata when every one of its words is here, so `Reply-To`, `Received Date` and
 * `Content-Transfer-Encoding` count and a chat transcript's `System:` or `User:` does not.
 */
const HEADER_WORDS: ReadonlySet<string> = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "date",
  "subject",
  "sender",
  "reply",
  "message",
  "id",
  "in",
  "references",
  "received",
  "return",
  "path",
  "delivered",
  "resent",
  "content",
  "type",
  "transfer",
  "encoding",
  "disposition",
  "length",
  "language",
  "description",
  "mime",
  "version",
  "mailer",
  "organization",
  "importance",
  "priority",
  "keywords",
  "comments",
  "list",
  "unsubscribe",
  "post",
  "help",
  "archive",
  "owner",
  "thread",
  "topic",
  "index",
  "dkim",
  "signature",
  "authentication",
  "results",
  "precedence",
  "sent",
  "email",
  "mail",
  "host",
  "accept",
  "cookie",
  "set",
  "server",
  "location",
  "cache",
  "control",
  "connection",
  "etag",
  "last",
  "modified",
  "expires",
  "vary",
  "referer",
]);

/** Whole header names with a word that is not metadata on its own (`User:` is a chat role). */
const HEADER_NAMES: ReadonlySet<string> = new Set(["user-agent", "newsgroups", "followup-to"]);

/**
 * `Name: value` at the start of a line or of a `|`-separated field: a name of one to four words
 * joined by `-`, `_` or a space. `://` is a URL, not a field.
 */
const FIELD = /^[ \t]*([A-Za-z][A-Za-z0-9]*(?:[-_ ][A-Za-z0-9]+){0,3})[ \t]*:(?!\/\/)[ \t]?/;

/** A `|` that starts another field on the same line (`SUBJECT: …|EMAIL_FROM: …`). */
const NEXT_FIELD = /\|(?=[ \t]*[A-Za-z][A-Za-z0-9]*(?:[-_ ][A-Za-z0-9]+){0,3}[ \t]*:(?!\/\/))/;

/** A code fence's opening line with its language tag (```` ```python ````, `~~~ js`). */
const FENCE_TAG = /^([ \t]*(?:`{3,}|~{3,}))[ \t]*[\w+#.-]+[ \t]*$/gm;

/**
 * Whether `name` is a message metadata field name (see {@linkcode HEADER_WORDS}).
 *
 * @example
 * ```ts
 * import { isHeaderName } from "./layout.ts";
 * console.log(isHeaderName("Content-Type"), isHeaderName("RECEIVED DATE"), isHeaderName("System"));
 * // true true false
 * ```
 */
export function isHeaderName(name: string): boolean {
  const normalized = name.trim().toLowerCase().replace(/[_ ]+/g, "-");
  if (HEADER_NAMES.has(normalized) || /^x-[a-z0-9-]+$/.test(normalized)) return true;
  return normalized.split("-").every((word) => HEADER_WORDS.has(word));
}

/** One line read as header fields: their values, or `null` when it is not a header line. */
function headerValues(line: string): string[] | null {
  const parts = line.split(NEXT_FIELD);
  const values: string[] = [];
  for (const part of parts) {
    const field = FIELD.exec(part);
    if (field && isHeaderName(field[1])) {
      values.push(part.slice(field[0].length));
    } else if (values.length) {
      // A `|` inside a value (`Subject: a | b`) that did not start a header field.
      values[values.length - 1] += `|${part}`;
    } else {
      return null;
    }
  }
  return values;
}

/**
 * `text` as the learned classifier reads it: every block of message header fields (two or
 * more `Name: value` fields with metadata names, on consecutive lines or `|`-separated on one,
 * with folded continuation lines) keeps its values one to a line and loses its names, and a
 * code fence loses its language tag. A single `Date:` line in a message, a chat transcript's
 * `System:`/`User:` turns and everything else are read as written.
 *
 * @example
 * ```ts
 * import { contentForModel } from "./layout.ts";
 * const mail = "From: Ann <ann@example.com>\nSubject: Lunch\n\nSee you at noon.";
 * console.log(contentForModel(mail)); // "Ann <ann@example.com>\nLunch\n\nSee you at noon."
 * ```
 */
export function contentForModel(text: string): string {
  const lines = text.replace(FENCE_TAG, "$1").split("\n");
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const block: string[] = [];
    let fields = 0;
    let j = i;
    while (j < lines.length) {
      const values = headerValues(lines[j]);
      if (values) {
        for (const value of values) block.push(value);
        fields += values.length;
      } else if (block.length && /^[ \t]+\S/.test(lines[j])) {
        // A folded header line (RFC 5322 2.2.3) continues the previous value.
        block[block.length - 1] += lines[j];
      } else {
        break;
      }
      j++;
    }
    if (fields >= 2) {
      // Not a spread: a block of 200,000 header lines would be as many arguments.
      for (const line of block) out.push(line);
      i = j;
    } else {
      out.push(lines[i]);
      i++;
    }
  }
  return out.join("\n");
}
