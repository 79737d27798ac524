const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUES = new Uint8Array(128);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/** Token bytes packed back to back, with each token's id and length. */
export interface PackedTokens {
  ids: Uint32Array;
  lengths: Uint32Array;
  bytes: Uint8Array;
}

/**
 * Parses tiktoken's compressed rank listing (lines of `<label> <first rank> <base64>...`) in
 * one pass over the string, decoding base64 straight into one buffer.
 */
export function parseRankListing(listing: string): PackedTokens {
  const n = listing.length;
  const bytes = new Uint8Array(n);
  const ids: number[] = [];
  const lengths: number[] = [];
  let at = 0;
  let i = 0;
  while (i < n) {
    // Label, then the first rank.
    while (i < n && listing.charCodeAt(i) !== 32) i++;
    i++;
    let rank = 0;
    while (i < n && listing.charCodeAt(i) !== 32 && listing.charCodeAt(i) !== 10) {
      rank = rank * 10 + listing.charCodeAt(i) - 48;
      i++;
    }
    while (i < n && listing.charCodeAt(i) === 32) {
      i++;
      const start = at;
      let buffer = 0;
      let bits = 0;
      while (i < n) {
        const c = listing.charCodeAt(i);
        if (c === 32 || c === 10) break;
        i++;
        if (c === 61) continue;
        buffer = ((buffer << 6) | VALUES[c]) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          bytes[at++] = (buffer >> bits) & 0xff;
        }
      }
      ids.push(rank++);
      lengths.push(at - start);
    }
    while (i < n && listing.charCodeAt(i) === 10) i++;
  }
  return {
    ids: Uint32Array.from(ids),
    lengths: Uint32Array.from(lengths),
    bytes: bytes.subarray(0, at),
  };
}
