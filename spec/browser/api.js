// The API every far side (dedicated worker, iframe, shared worker) exposes to the page, and the
// events it answers. Plain browser JavaScript: loaded as is, with one import from the bundle URL.
import { callContext, ref, transfer } from '/treerpc.js'

/** The options of every peer in these pages: a fast heartbeat, so liveness specs end quickly. */
export const PEER_OPTIONS = { heartbeat: { interval: 100, timeout: 300 } }

/** Exposes the far-side API on `peer` (made by the caller) and returns it. `where` names the side. */
export function makeApi(where, getPeer) {
  let lastAbort
  return {
    where: () => where,
    echo: (value) => value,
    /** Calls back into the page during this call: page.twice(n), then adds one. */
    async nested(n) {
      const twice = await getPeer().remote.page.twice(n)
      return { twice, plusOne: twice + 1, where }
    },
    /** Settles after `ms`, or never if cancelled first (its signal ends the wait). */
    sleep(ms) {
      const { signal } = callContext()
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve('slept'), ms)
        signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
      })
    },
    /** Waits for the call's signal to abort and records why. */
    waitForAbort() {
      const { signal } = callContext()
      lastAbort = undefined
      return new Promise((resolve) => {
        signal.addEventListener(
          'abort',
          () => {
            lastAbort = { aborted: signal.aborted, reason: signal.reason?.name ?? String(signal.reason) }
            resolve('aborted')
          },
          { once: true },
        )
      })
    },
    lastAbort: () => lastAbort ?? null,
    fail() {
      const error = new Error('over the quota')
      error.name = 'QuotaError'
      error.code = 'E_QUOTA'
      error.limit = 10
      error.when = new Date(0)
      throw error
    },
    /** Receives a (transferred) buffer, doubles every byte and moves it back. */
    double(buffer) {
      const bytes = new Uint8Array(buffer)
      for (let i = 0; i < bytes.length; i++) bytes[i] *= 2
      return transfer({ buffer, isArrayBuffer: buffer instanceof ArrayBuffer }, [buffer])
    },
    /** References: calls `progress` n times, returns a ref() object and a stream (README "by reference"). */
    async progress(n, progress) {
      for (let i = 1; i <= n; i++) await progress(i)
      return n
    },
    counter: () => ref({ count: 0, add(k) { return (this.count += k) } }),
    async *items(n) {
      for (let i = 0; i < n; i++) yield i
    },
    /** Never settles: the liveness specs end it by killing this side. */
    hang: () => new Promise(() => {}),
  }
}

/** Events both ways: every `ping` from the page is answered with a `pong` carrying the same value. */
export function answerPings(peer, where) {
  peer.on('ping', (value) => peer.emit('pong', { value, where }))
}
