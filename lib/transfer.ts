import type { Transferable } from './transport.js'

/** Values marked by {@link transfer}, with what to move when they are sent. Weak: marks never leak. */
const marks = new WeakMap<object, readonly Transferable[]>()
/**
 * Marks made and not yet used by a send. While it is 0 (the usual case: every mark is sent soon
 * after it is made), sending looks no mark up. A marked value dropped unsent keeps it above 0: then
 * every send looks marks up, which costs a WeakMap lookup per object, nothing more.
 */
let unsent = 0

/**
 * Marks `value` so that `transferables` (ArrayBuffers, MessagePorts) inside it are moved, not copied,
 * when it is sent: as a call argument, a handler's result or an event argument, at any depth
 * (`f({ data: transfer(bytes, [bytes.buffer]) })` works). Returns `value` itself.
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
  if (!marks.has(value)) unsent++
  marks.set(value, transferables)
  return value
}

/** @internal True while some mark has not been used by a send: only then does sending look marks up. */
export function hasMarks(): boolean {
  return unsent > 0
}

/** @internal What `value` is marked to transfer, using the mark up (a value is moved once). */
export function takeMark(value: object): readonly Transferable[] | undefined {
  const list = marks.get(value)
  if (list !== undefined) {
    marks.delete(value)
    unsent--
  }
  return list
}
