/** Longest delay a timer can have (2^31-1 ms, about 24.8 days); longer timeouts mean none. */
export const MAX_TIMEOUT = 2_147_483_647

/**
 * Many deadlines, one timer. Entries sharing a timeout value expire in the order they were added, so
 * each timeout value keeps its entries in a Map of id -> deadline (insertion-ordered, O(1) delete)
 * and only the heads matter: the single timer is armed for the earliest head. Adding costs a Map
 * insertion under a small-integer key (no object hashing, no timer); the timer is cleared as soon as
 * nothing is left, so it never outlives the last entry.
 *
 * Timers and clocks are read at call time, so fake timers (sinon) reach them.
 */
export class Deadlines {
  readonly #groups = new Map<number, Map<number, number>>()
  readonly #onExpire: (id: number) => void
  #count = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #armedFor = Infinity
  #lastTimeout = -1
  #lastGroup: Map<number, number> | undefined

  constructor(onExpire: (id: number) => void) {
    this.#onExpire = onExpire
  }

  /** Entries waiting for their deadline. */
  get size(): number {
    return this.#count
  }

  /** Adds `id` to expire `timeout` ms from now; returns its deadline. */
  add(id: number, timeout: number): number {
    const deadline = Date.now() + timeout
    // Nearly every call uses the peer's default timeout: skip the lookup for it.
    let group = timeout === this.#lastTimeout ? this.#lastGroup : this.#groups.get(timeout)
    if (group === undefined) {
      group = new Map()
      this.#groups.set(timeout, group)
    }
    this.#lastTimeout = timeout
    this.#lastGroup = group
    group.set(id, deadline)
    this.#count++
    if (deadline < this.#armedFor) this.#arm(deadline)
    return deadline
  }

  delete(id: number, timeout: number): void {
    const group = this.#groups.get(timeout)
    if (group === undefined || !group.delete(id)) return
    if (group.size === 0) this.#drop(timeout)
    if (--this.#count === 0) this.#disarm()
  }

  #drop(timeout: number): void {
    this.#groups.delete(timeout)
    if (timeout === this.#lastTimeout) this.#lastGroup = undefined
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#armedFor = deadline
    const timer = setTimeout(this.#fire, Math.max(0, deadline - Date.now()))
    if (typeof timer === 'object') timer.unref?.()
    this.#timer = timer
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedFor = Infinity
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    this.#armedFor = Infinity
    const now = Date.now()
    const expired: number[] = []
    let next = Infinity
    for (const [timeout, group] of this.#groups) {
      for (const [id, deadline] of group) {
        if (deadline > now) {
          if (deadline < next) next = deadline
          break
        }
        group.delete(id)
        this.#count--
        expired.push(id)
      }
      if (group.size === 0) this.#drop(timeout)
    }
    if (next !== Infinity) this.#arm(next)
    for (const id of expired) this.#onExpire(id)
  }
}
