/**
 * treerpc/amqp, member side (bench/broker.ts): serves `argv[3]` (the service name) with the given
 * concurrency (`argv[4]`). `work(ms)` keeps the CPU busy for `ms`, for the scale workload.
 * Sends 'ready' over IPC once serving; closes and exits when the parent disconnects.
 */
import { connectBroker } from '../../lib/amqp.js'

const [url, name, concurrency] = process.argv.slice(2) as [string, string, string]

const api = {
  echo: (x: unknown) => x,
  work: (ms: number) => {
    const until = performance.now() + ms
    while (performance.now() < until);
    return ms
  },
}

export type BrokerBenchApi = typeof api

const broker = await connectBroker(url)
const member = await broker.serve(name, api, { concurrency: Number(concurrency) })
process.send!('ready')
process.once('disconnect', () => {
  member
    .close()
    .then(() => broker.close())
    .finally(() => process.exit(0))
})
