/**
 * The raw amqplib limit, server side (bench/broker.ts): one channel consuming `argv[2]` (the queue)
 * with prefetch 64 and TCP_NODELAY, answering each `{ id, x }` with the same body to its `replyTo` (direct reply-to),
 * then acking. No envelope, no errors, no timeouts: the least an RPC over RabbitMQ must do.
 * Sends 'ready' over IPC once consuming; exits when the parent disconnects.
 */
import amqplib from 'amqplib'

const [url, queue] = process.argv.slice(2) as [string, string]
// noDelay: without it Nagle's algorithm holds each small reply for the peer's delayed ACK (~40 ms).
const connection = await amqplib.connect(url, { noDelay: true })
const channel = await connection.createChannel()
await channel.assertQueue(queue, { durable: false })
await channel.prefetch(64)
await channel.consume(queue, (message) => {
  if (message === null) return
  // Parsed and serialized again, as any RPC layer must, so JSON is not what sets treerpc apart.
  const { id, x } = JSON.parse(message.content.toString()) as { id: number; x: unknown }
  channel.sendToQueue(message.properties.replyTo as string, Buffer.from(JSON.stringify({ id, x })))
  channel.ack(message)
})
process.send!('ready')
process.once('disconnect', () => {
  connection.close().finally(() => process.exit(0))
})
