/** Longest delay a timer can have (2^31-1 ms, about 24.8 days); longer timeouts mean none. */
export const MAX_TIMEOUT = 2_147_483_647

/** The entries of one timeout value, oldest first: deadlines only grow along it. */
class Queue {
  ids: number[] = []
  deadlines: number[] = []
  head = 0

  get length(): number {
    return this.ids.length - this.head
  }

  /** Drops `head` entries already consumed, once they are the larger part of the arrays. */
  trim(): void {
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head)
      this.deadlines = this.deadlines.slice(this.head)
      this.head = 0
    }
  }
}

/**
 * Many deadlines, one timer, and no per-call bookkeeping beyond an array push.
 *
 * Entries sharing a timeout value expire in the order they were added, so each timeout value keeps a
 * FIFO of (id, deadline) and only its head matters: the single timer is armed for the earliest head.
 * Settled entries are not searched for and removed: they are skipped when they reach the head (the
 * owner says which ids are still live), and a queue much longer than the live count is compacted, so
 * memory stays proportional to what is pending. The timer is cleared as soon as nothing is live.
 *
 * Timers and clocks are read at call time, so fake timers (sinon) reach them.
 */
export class Deadlines {
  readonly #queues = new Map<number, Queue>()
  readonly #isLive: (id: number) => boolean
  readonly #onExpire: (id: number) => void
  #live = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #armedFor = Infinity
  #lastTimeout = -1
  #lastQueue: Queue | undefined

  /** `isLive(id)` is false once the entry settled; `onExpire(id)` must end it (and call `delete`). */
  constructor(isLive: (id: number) => boolean, onExpire: (id: number) => void) {
    this.#isLive = isLive
    this.#onExpire = onExpire
  }

  /** Entries waiting for their deadline. */
  get size(): number {
    return this.#live
  }

  /** Entries stored, settled ones not yet skipped included: stays within about twice `size`. */
  get stored(): number {
    let n = 0
    for (const queue of this.#queues.values()) n += queue.length
    return n
  }

  /** Adds `id` (ids only grow) to expire `timeout` ms from now; returns its deadline. */
  add(id: number, timeout: number): number {
    const deadline = Date.now() + timeout
    // Nearly every call uses the peer's default timeout: skip the lookup for it.
    let queue = timeout === this.#lastTimeout ? this.#lastQueue : this.#queues.get(timeout)
    if (queue === undefined) {
      queue = new Queue()
      this.#queues.set(timeout, queue)
    }
    this.#lastTimeout = timeout
    this.#lastQueue = queue
    queue.ids.push(id)
    queue.deadlines.push(deadline)
    this.#live++
    if (queue.length > 2 * this.#live + 1024) this.#compact(queue)
    if (deadline < this.#armedFor) this.#arm(deadline)
    return deadline
  }

  /**
   * The entry settled: it will be skipped. The last one empties every queue but leaves the timer
   * armed: sequential calls would otherwise clear and re-arm it once each (about 0.3 µs in Node,
   * 10 µs in Chromium). Armed with nothing to expire, it fires once and is not re-armed; it never
   * keeps a process alive, and {@link clear} ends it when the peer closes.
   */
  delete(): void {
    if (--this.#live > 0) return
    this.#live = 0
    this.#queues.clear()
    this.#lastQueue = undefined
    this.#lastTimeout = -1
  }

  /** Ends the timer and every queue (the peer closed). */
  clear(): void {
    this.#live = 0
    this.#queues.clear()
    this.#lastQueue = undefined
    this.#lastTimeout = -1
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedFor = Infinity
  }

  #compact(queue: Queue): void {
    const ids: number[] = []
    const deadlines: number[] = []
    for (let i = queue.head; i < queue.ids.length; i++) {
      if (!this.#isLive(queue.ids[i]!)) continue
      ids.push(queue.ids[i]!)
      deadlines.push(queue.deadlines[i]!)
    }
    queue.ids = ids
    queue.deadlines = deadlines
    queue.head = 0
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#armedFor = deadline
    const timer = setTimeout(this.#fire, Math.max(0, deadline - Date.now()))
    if (typeof timer === 'object') timer.unref?.()
    this.#timer = timer
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    this.#armedFor = Infinity
    const now = Date.now()
    const expired: number[] = []
    let next = Infinity
    for (const [timeout, queue] of this.#queues) {
      while (queue.head < queue.ids.length) {
        const id = queue.ids[queue.head]!
        const deadline = queue.deadlines[queue.head]!
        if (this.#isLive(id)) {
          if (deadline > now) {
            if (deadline < next) next = deadline
            break
          }
          expired.push(id)
        }
        queue.head++
      }
      if (queue.length === 0) {
        this.#queues.delete(timeout)
        if (queue === this.#lastQueue) this.#lastQueue = undefined
      } else {
        queue.trim()
      }
    }
    if (next !== Infinity) this.#arm(next)
    for (const id of expired) this.#onExpire(id)
  }
}
