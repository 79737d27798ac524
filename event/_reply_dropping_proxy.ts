/**
 * A TCP proxy for tests that loses one reply on purpose: after `dropNextReply()`, the next
 * bytes the server sends are thrown away and the client's connection is cut. The server has
 * then run the command while the client never learns it, which is what a retry must survive.
 */
export interface ReplyDroppingProxy {
  /** `redis://127.0.0.1:<port>`: connect here instead of the server. */
  readonly url: string;
  /** Client connections accepted so far (a reconnect makes one more). */
  readonly connections: number;
  /** Loses the next reply the server sends on any connection, cutting that connection. */
  dropNextReply(): void;
  /** Stops listening and cuts every connection. */
  close(): void;
}

/** Starts a proxy on a free port in front of `target` (a host:port). */
export function startReplyDroppingProxy(
  target: { hostname: string; port: number },
): ReplyDroppingProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let connections = 0;
  let dropping = false;
  const cut = (...conns: Deno.Conn[]) => {
    for (const conn of conns) {
      if (!open.delete(conn)) continue;
      try {
        conn.close();
      } catch {
        // Already closed by the other direction's copy.
      }
    }
  };
  const serve = async (client: Deno.Conn) => {
    const server = await Deno.connect(target);
    open.add(client);
    open.add(server);
    const upstream = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      for (let n; (n = await client.read(buffer).catch(() => null)) !== null;) {
        await server.write(buffer.subarray(0, n)).catch(() => cut(client, server));
      }
      cut(client, server);
    })();
    const buffer = new Uint8Array(64 * 1024);
    for (let n; (n = await server.read(buffer).catch(() => null)) !== null;) {
      if (dropping) {
        dropping = false;
        break;
      }
      await client.write(buffer.subarray(0, n)).catch(() => cut(client, server));
    }
    cut(client, server);
    await upstream;
  };
  (async () => {
    for await (const client of listener) {
      connections++;
      serve(client).catch(() => cut(client));
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    dropNextReply() {
      dropping = true;
    },
    close() {
      listener.close();
      cut(...open);
    },
  } satisfies ReplyDroppingProxy;
}
