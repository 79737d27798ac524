/**
 * Load-balancing strategies over a service's backends: round robin, smooth weighted round robin
 * (nginx's algorithm), least connections and a consistent-hash ring for sticky sessions.
 */
import type { Backend } from "./backend.ts";

/** Picks a backend for a request; `skip` holds backends already tried by a retry. */
export interface Balancer {
  /** The chosen backend, or undefined when none is available. */
  pick(request: Request, skip: ReadonlySet<Backend>): Backend | undefined;
}

function candidates(backends: readonly Backend[], skip: ReadonlySet<Backend>): Backend[] {
  return backends.filter((b) => b.available() && !skip.has(b));
}

/** Each available backend in turn. */
export function roundRobin(backends: readonly Backend[]): Balancer {
  let next = 0;
  return {
    pick(_request, skip) {
      const ready = candidates(backends, skip);
      if (!ready.length) return undefined;
      return ready[next++ % ready.length];
    },
  };
}

/** Smooth weighted round robin: weight 3 vs 1 gives a a b a, never a a a b. */
export function weighted(backends: readonly Backend[]): Balancer {
  const current = new Map<Backend, number>();
  return {
    pick(_request, skip) {
      const ready = candidates(backends, skip);
      if (!ready.length) return undefined;
      const total = ready.reduce((sum, b) => sum + b.weight, 0);
      let best = ready[0];
      for (const b of ready) {
        const value = (current.get(b) ?? 0) + b.weight;
        current.set(b, value);
        if (value > (current.get(best) ?? 0)) best = b;
      }
      current.set(best, (current.get(best) ?? 0) - total);
      return best;
    },
  };
}

/** The backend with the fewest requests in flight, relative to its weight. */
export function leastConnections(backends: readonly Backend[]): Balancer {
  let tieBreak = 0;
  return {
    pick(_request, skip) {
      const ready = candidates(backends, skip);
      if (!ready.length) return undefined;
      const load = (b: Backend) => b.active / b.weight;
      const min = Math.min(...ready.map(load));
      const tied = ready.filter((b) => load(b) === min);
      return tied[tieBreak++ % tied.length];
    },
  };
}

/** FNV-1a, 32 bits: fast and well spread for short keys. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function cookieValue(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A hash ring with 100 virtual nodes per unit of weight: the same key goes to the same backend,
 * and a backend leaving moves only its own keys. Requests without a key fall back to round
 * robin.
 */
export function consistentHash(
  backends: readonly Backend[],
  key: { header?: string; cookie?: string },
): Balancer {
  const ring: { point: number; backend: Backend }[] = [];
  for (const backend of backends) {
    for (let v = 0; v < 100 * backend.weight; v++) {
      ring.push({ point: fnv1a(`${backend.url.href}#${v}`), backend });
    }
  }
  ring.sort((a, b) => a.point - b.point);
  const fallback = roundRobin(backends);
  return {
    pick(request, skip) {
      const value = key.header
        ? request.headers.get(key.header) ?? undefined
        : key.cookie
        ? cookieValue(request.headers.get("cookie"), key.cookie)
        : undefined;
      if (value === undefined) return fallback.pick(request, skip);
      const point = fnv1a(value);
      let lo = 0, hi = ring.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ring[mid].point < point) lo = mid + 1;
        else hi = mid;
      }
      for (let i = 0; i < ring.length; i++) {
        const { backend } = ring[(lo + i) % ring.length];
        if (backend.available() && !skip.has(backend)) return backend;
      }
      return undefined;
    },
  };
}
