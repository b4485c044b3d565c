/** The values the workloads send. Built once, so every contender sends the very same data. */

/** A short call: the sequential-latency, throughput and pool workloads. */
export const SMALL = 'hello'

export interface Graph {
  kind: 'graph'
  created: number
  items: { id: number; name: string; price: number; active: boolean; tags: string[]; dims: { w: number; h: number; d: number }; parent: number | null }[]
}

/** An object graph of about `bytes` bytes of JSON (nested objects, arrays, strings, numbers, booleans, nulls). */
export function objectGraph(bytes = 64 * 1024): Graph {
  const graph: Graph = { kind: 'graph', created: 1_700_000_000_000, items: [] }
  let size = JSON.stringify(graph).length
  for (let i = 0; size < bytes; i++) {
    const item = {
      id: i,
      name: `item number ${i}`,
      price: Math.round(i * 137.5) / 100,
      active: i % 3 !== 0,
      tags: ['alpha', `t${i % 7}`, `group-${i % 11}`],
      dims: { w: i % 100, h: (i * 7) % 100, d: 3 },
      parent: i === 0 ? null : i - 1,
    }
    graph.items.push(item)
    size += JSON.stringify(item).length + 1
  }
  return graph
}

export const MIB = 1 << 20

/** 1 MiB of bytes (a fresh buffer each time: a transferred one is detached at the sender). */
export function binary(): Uint8Array {
  const bytes = new Uint8Array(MIB)
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff
  return bytes
}

/** The same 1 MiB as base64, for JSON channels (a Uint8Array does not survive JSON). */
export function binaryBase64(): string {
  return Buffer.from(binary()).toString('base64')
}
