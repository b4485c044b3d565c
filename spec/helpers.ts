import { expect } from 'chai'
import { createMemoryPair, createPeer, type Peer, type PeerOptions } from '../lib/index.js'
import type { MemoryTransport } from '../lib/transports/memory.js'

const tracked = new Set<Peer<any>>()

/** Registers a peer to be leak-checked and closed after the current test. */
export function track<P extends Peer<any>>(peer: P): P {
  tracked.add(peer)
  return peer
}

/**
 * After each test: every open peer must have no pending call, no running or queued handler, then
 * everything is closed. A test that leaves work in flight on purpose closes its peers itself.
 */
export async function closeTracked(): Promise<void> {
  await tick()
  const peers = [...tracked]
  tracked.clear()
  try {
    for (const peer of peers) {
      if (peer.state === 'closed') continue
      const { pending, active, queued } = peer.stats
      expect({ pending, active, queued }, 'peer left work behind').to.deep.equal({ pending: 0, active: 0, queued: 0 })
    }
  } finally {
    for (const peer of peers) peer.close()
  }
}

/** Two connected peers over a memory pair, tracked for leaks. */
export function pair<LeftApi = any, RightApi = any>(
  leftOptions: PeerOptions = {},
  rightOptions: PeerOptions = {},
): { left: Peer<RightApi>; right: Peer<LeftApi>; leftTransport: MemoryTransport; rightTransport: MemoryTransport } {
  const [leftTransport, rightTransport] = createMemoryPair()
  const left = track(createPeer<RightApi>(leftTransport, leftOptions))
  const right = track(createPeer<LeftApi>(rightTransport, rightOptions))
  return { left, right, leftTransport, rightTransport }
}

/** Resolves after pending macrotasks (memory-pair deliveries) have run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Resolves after `n` macrotask turns. */
export async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await tick()
}

/** A promise with its resolve/reject exposed, to hold a handler open until a test releases it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Resolves with the rejection of `promise`; fails the test if it resolves. */
export async function rejection(promise: PromiseLike<unknown>): Promise<any> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the promise to reject')
}
