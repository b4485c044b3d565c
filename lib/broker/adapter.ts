/**
 * The one interface between treerpc's broker layer and a message broker. The layer (connect.ts,
 * client.ts, member.ts) holds every RPC rule; an adapter only moves opaque JSON text between named
 * places. RabbitMQ's adapter is rabbitmq.ts; a Redis or NATS adapter would be one more file.
 *
 * A service `name` has three places in the broker:
 * - its **call queue**, shared by all its members (competing consumers), bounded by `maxQueue`;
 * - its **control fan-out**, heard by every member (cancels, `members()` queries);
 * - its **event fan-out**, heard by every client (`member.emit`).
 * Replies go straight back to the caller's connection (`replyTo`), addressed to one client (`to`).
 */
export interface BrokerAdapter {
  /** Opens one connection; rejects when the broker cannot be reached. */
  connect(): Promise<BrokerLink>
}

/** One live connection to the broker. Everything it gave out dies with it. */
export interface BrokerLink {
  /**
   * Declares the service's call queue (bounded: calls beyond `maxQueue` are refused, not queued) and
   * its two fan-outs. Rejects when the queue exists with other bounds.
   */
  declareService(service: string, maxQueue: number | undefined): Promise<void>
  /** Declares only the fan-outs, for a client that may come before any member. */
  declareFanouts(service: string): Promise<void>
  /** Takes calls from the service's queue, at most `prefetch` unacknowledged at a time. */
  takeCalls(service: string, prefetch: number, onCall: (delivery: Delivery) => void): Promise<Subscription>
  /** Hears the service's control fan-out on a private queue that goes with the connection. */
  hearControl(service: string, onMessage: (message: Received) => void): Promise<Subscription>
  /**
   * Hears the service's event fan-out on a private queue that goes with the connection. Calls the
   * bounded queue refused (`refused: 'full'`) come this way too, to every client: each keeps its own.
   */
  hearEvents(service: string, onMessage: (message: Received) => void): Promise<Subscription>
  /**
   * Hears replies to this connection's calls and control requests (`from` names the client), and
   * calls that could not be routed because the service's queue does not exist yet (`refused: 'unroutable'`).
   */
  hearReplies(onMessage: (message: Received) => void): Promise<void>
  /**
   * Publishes a call (or a notification) to the service's queue, from client `from`. With `reply`, the
   * member's reply comes back to this connection. `expiresIn` (ms): the broker drops it unread after.
   * Nothing is awaited: a refusal comes back later as a Received with `refused`.
   */
  sendCall(service: string, body: string, options: { from: string; reply: boolean; expiresIn?: number }): void
  /** Publishes to every member of the service; with `reply`, their replies come back to this connection. */
  sendControl(service: string, body: string, options: { from: string; reply: boolean }): void
  /** Publishes to every client of the service. */
  sendEvent(service: string, body: string): void
  /** Sends a reply to the connection a call came from, for client `to`. */
  sendReply(replyTo: string, body: string, to: string): void
  /** How many members take calls from the service's queue now (0 when it does not exist). */
  countMembers(service: string): Promise<number>
  /** Called once when the connection is lost or closed; `error` is undefined after `close()`. */
  onClose(listener: (error?: Error) => void): void
  close(): Promise<void>
}

export interface Received {
  body: string
  /** The sending client (calls, control), or the addressed client (replies). */
  from?: string
  /** Where a reply goes. */
  replyTo?: string
  /** Set on a call of client `from` that comes back unrun: the queue was full, or does not exist yet. */
  refused?: 'full' | 'unroutable'
}

export interface Delivery extends Received {
  /** True when the broker delivered it before, to a member that went away without acknowledging it. */
  redelivered: boolean
  /** True when it is a second chance: a member published it again after its first member was lost. */
  retried: boolean
  /** Done with it: the broker forgets it. A no-op once the connection it came on is gone. */
  ack(): void
  /**
   * Publishes it again at the back of the queue as a second chance (`retried`), for another member,
   * then acknowledges this delivery.
   */
  retry(): void
}

export interface Subscription {
  /** Stops the flow; what was delivered and not acknowledged stays with this side until `close()`. */
  cancel(): Promise<void>
  /** Ends the subscription: unacknowledged deliveries go back to the queue (redelivered). */
  close(): Promise<void>
}
