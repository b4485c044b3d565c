// A worker thread: CPU work off the main thread, behind a typed nested API.
import { connectParent } from 'treerpc'

const api = {
  text: {
    shout: (s: string) => s.toUpperCase(),
    stats: { count: (s: string) => ({ chars: s.length, words: s.split(/\s+/).filter(Boolean).length }) },
  },
  fib(n: number): number {
    return n < 2 ? n : api.fib(n - 1) + api.fib(n - 2)
  },
}

export type WorkerApi = typeof api

connectParent({ expose: api })
