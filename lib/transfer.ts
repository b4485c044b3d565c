import type { Transferable } from './transport.js'

/** Values marked by {@link transfer}, with what to move when they are sent. Weak: marks never leak. */
const marks = new WeakMap<object, readonly Transferable[]>()
let anyMarked = false

/**
 * Marks `value` so that `transferables` (ArrayBuffers, MessagePorts) inside it are moved, not copied,
 * when it is sent as a call argument or returned by a handler. Returns `value` itself.
 *
 * ```ts
 * const bytes = new Uint8Array(1 << 20)
 * await worker.remote.image.decode(transfer(bytes, [bytes.buffer])) // bytes.buffer is now detached here
 * // and in a handler:
 * return transfer(result, [result.buffer])
 * ```
 * Over worker and MessagePort channels the marked objects move (the sender's copy is detached). Over
 * a child-process or stream channel the mark is ignored and the data copied.
 */
export function transfer<T extends object>(value: T, transferables: readonly Transferable[]): T {
  marks.set(value, transferables)
  anyMarked = true
  return value
}

/** @internal What to transfer for these values; undefined when nothing is marked (the usual case, checked in O(1)). */
export function transfersOf(values: readonly unknown[]): Transferable[] | undefined {
  if (!anyMarked) return undefined
  let found: Transferable[] | undefined
  for (const value of values) {
    if (typeof value !== 'object' || value === null) continue
    const list = marks.get(value)
    if (list !== undefined) {
      marks.delete(value)
      ;(found ??= []).push(...list)
    }
  }
  return found
}

/** @internal {@link transfersOf} for one value (a handler's result), without allocating. */
export function transfersOfValue(value: unknown): readonly Transferable[] | undefined {
  if (!anyMarked || typeof value !== 'object' || value === null) return undefined
  const list = marks.get(value)
  if (list !== undefined) marks.delete(value)
  return list
}
