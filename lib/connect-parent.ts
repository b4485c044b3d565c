import { isMainThread, parentPort } from 'node:worker_threads'
import { checkBoolean, checkOptions, optional } from './check.js'
import { type CloseInfo, ErrorCode, RpcError } from './errors.js'
import { type PeerOptions, resolvePeerOptions } from './options.js'
import { createPeer, type Peer } from './peer.js'
import { parentProcessTransport } from './transports/ipc.js'
import { NodePortTransport } from './transports/worker.js'
import type { PeerEvents } from './types.js'

export interface ConnectParentOptions extends PeerOptions {
  /**
   * In a forked child: exit the process once the parent is gone (its channel disconnected or it
   * closed the peer), so that no child outlives its parent even with servers or timers of its own.
   * Default true. Has no effect in a worker, which ends with its parent anyway.
   */
  exitOnDisconnect?: boolean
}

/**
 * The peer of this process's (or thread's) one channel to its parent, while it is not closed.
 * Module state on purpose: the channel itself is per process or thread, and two peers on it would
 * both answer every call.
 */
let connected: Peer<unknown> | undefined

/**
 * Connects this forked child process or worker thread to its parent. `ParentApi` is the type of what
 * the parent exposes; `Events`, optional, the events each way (see PeerEvents). Closing the returned
 * peer releases the IPC channel or `parentPort`, so the child exits by itself once nothing else keeps
 * it alive.
 *
 * The peer is typed with `remoteSync` and `callSync` because the same module may run in either: in a
 * worker they block; in a child process they throw RpcError `RPC_UNSUPPORTED` at once.
 *
 * Call it once: there is one channel to the parent. Options are checked before anything listens on it.
 *
 * @throws RpcError `RPC_INVALID_ARGUMENT` naming an option of the wrong type or value.
 * @throws RpcError `RPC_INVALID_STATE` when called again while the peer of an earlier call is not
 *   closed (use that peer; once it is closed, a new call is allowed, though in a forked child the
 *   IPC channel is gone by then and the new peer closes at once).
 * @throws RpcError `RPC_UNSUPPORTED` when this is neither a worker thread nor a child forked with an IPC channel.
 */
export function connectParent<ParentApi = unknown, Events extends PeerEvents = PeerEvents>(options?: ConnectParentOptions): Peer<ParentApi, Events> {
  const { exitOnDisconnect = true, ...peerOptions } = checkOptions<ConnectParentOptions>('options', options)
  optional(checkBoolean, 'options.exitOnDisconnect', exitOnDisconnect)
  // Checked here too, before a transport hooks the channel: a peer that then failed to be made
  // would leave a listener behind that keeps this process or thread alive.
  resolvePeerOptions(peerOptions)
  if (connected !== undefined && connected.state !== 'closed') {
    throw new RpcError(
      'connectParent() was already called and its peer is not closed: there is one channel to the parent, so use that peer (or close it first)',
      ErrorCode.InvalidState,
    )
  }
  let peer: Peer<ParentApi, Events>
  if (!isMainThread && parentPort !== null) {
    peer = createPeer<ParentApi, Events>(new NodePortTransport(parentPort, { ownsPort: false }), peerOptions)
  } else if (typeof process.send === 'function') {
    peer = createPeer<ParentApi, Events>(parentProcessTransport(), peerOptions)
    if (exitOnDisconnect) {
      peer.on('close', (info: CloseInfo) => {
        // Let the close reach every other listener before leaving.
        if (info.local !== true) setImmediate(() => process.exit())
      })
    }
  } else {
    throw new RpcError(
      'connectParent() must run in a worker thread or in a child process forked with an IPC channel (child_process.fork or spawnChild)',
      ErrorCode.Unsupported,
    )
  }
  connected = peer as Peer<unknown>
  return peer
}
