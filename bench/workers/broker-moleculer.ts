/**
 * moleculer with its AMQP transporter, server side (bench/broker.ts): service `bench`, action `echo`
 * returning `params.x`. Prefetch 64 and TCP_NODELAY like the other rows: moleculer's own defaults
 * (prefetch 1, Nagle on) would serve one call at a time, each held ~40 ms by Nagle. Sends 'ready' over IPC once started; stops when the parent disconnects.
 */
import moleculer from 'moleculer'

const [url] = process.argv.slice(2) as [string]

const broker = new moleculer.ServiceBroker({
  nodeID: `bench-server-${process.pid}`,
  transporter: { type: 'AMQP', options: { url, prefetch: 64, socketOptions: { noDelay: true } } },
  logger: false,
})
broker.createService({
  name: 'bench',
  actions: {
    echo: (ctx: moleculer.Context<{ x: unknown }>) => ctx.params.x,
  },
})
await broker.start()
process.send!('ready')
process.once('disconnect', () => {
  broker.stop().finally(() => process.exit(0))
})
