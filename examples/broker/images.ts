// A member of the `images` service: run as many as you like, on any host that reaches the broker.
//   node dist/examples/broker/images.js amqp://host:5672
import { callContext } from 'treerpc'
import { connectBroker } from 'treerpc/amqp'

export const api = {
  img: {
    /** A stand-in for real work: "thumbnails" bytes by keeping every 4th one, and says who did it. */
    async thumb(bytes: Uint8Array): Promise<{ bytes: Uint8Array; by: number }> {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return { bytes: bytes.filter((_, i) => i % 4 === 0), by: process.pid }
    },
    /** Slow on purpose: stops when the caller cancels or times out. */
    async batch(count: number): Promise<number> {
      const { signal } = callContext()
      for (let i = 1; i <= count; i++) {
        signal.throwIfAborted()
        await new Promise((resolve) => setTimeout(resolve, 100))
        member.emit('progress', process.pid, i, count)
      }
      return count
    },
  },
  stats: {
    reset: () => console.log(`[member ${process.pid}] stats reset`),
  },
}
export type ImagesApi = typeof api

const broker = await connectBroker(process.argv[2] ?? 'amqp://127.0.0.1:5672')
const member = await broker.serve('images', api, { concurrency: 8, maxQueue: 1000, idempotent: ['img.thumb'] })
process.send?.('ready')
// Leave cleanly: unstarted calls stay queued for the other members; running ones get 2 s to finish.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void member.close({ drain: 2000 }).then(() => broker.close()))
}
process.on('disconnect', () => void member.close({ drain: 2000 }).then(() => broker.close()))
