/**
 * `treerpc/amqp`: services across machines on RabbitMQ, with the same typed proxy as a peer.
 * Needs the `amqplib` package (a peer dependency: `npm install amqplib`).
 *
 *   const broker = await connectBroker('amqp://127.0.0.1:5672')
 *   const member = await broker.serve('images', api, { concurrency: 8 })
 *   const images = broker.client<ImagesApi>('images')
 *   await images.remote.img.thumb(bytes)
 */
import { checkOptions, invalidArgument } from './check.js'
import { Broker, type BrokerOptions, connectWith } from './broker/connect.js'
import { rabbitmq } from './broker/rabbitmq.js'

export interface AmqpOptions extends BrokerOptions {
  /** `amqp://user:password@host:port/vhost`. */
  url: string
  /** AMQP heartbeat in seconds: how soon a silently dead connection is noticed. Default 5. */
  heartbeat?: number
}

/**
 * Connects to RabbitMQ; resolves once connected, rejects when it cannot be reached. The connection
 * comes back by itself when lost, until `broker.close()`.
 */
export async function connectBroker(options: string | AmqpOptions): Promise<Broker> {
  const { url, heartbeat, ...rest } = typeof options === 'string' ? { url: options } : checkOptions('options', options)
  if (typeof url !== 'string') throw invalidArgument('options.url', 'an amqp:// URL', url)
  return connectWith(rabbitmq({ url, heartbeat }), rest)
}

export { Broker, connectWith }
export type { BrokerEvents, BrokerOptions } from './broker/connect.js'
export type { BrokerAdapter, BrokerLink, Delivery, Received, Subscription } from './broker/adapter.js'
export type { ClientOptions, ServiceClient } from './broker/client.js'
export type { Member, MemberInfo, ServeOptions } from './broker/member.js'
