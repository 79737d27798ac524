/** A new box id: 64 hex digits of randomness, as Docker's container ids are. */
export function newBoxId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
