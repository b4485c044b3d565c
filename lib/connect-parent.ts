import { isMainThread, parentPort } from 'node:worker_threads'
import { type CloseInfo, ErrorCode, RpcError } from './errors.js'
import type { PeerOptions } from './options.js'
import { createPeer, type Peer } from './peer.js'
import { parentProcessTransport } from './transports/ipc.js'
import { NodePortTransport } from './transports/worker.js'

export interface ConnectParentOptions extends PeerOptions {
  /**
   * In a forked child: exit the process once the parent is gone (its channel disconnected or it
   * closed the peer), so that no child outlives its parent even with servers or timers of its own.
   * Default true. Has no effect in a worker, which ends with its parent anyway.
   */
  exitOnDisconnect?: boolean
}

/**
 * Connects this forked child process or worker thread to its parent. `ParentApi` is the type of what
 * the parent exposes. Closing the returned peer releases the IPC channel or `parentPort`, so the
 * child exits by itself once nothing else keeps it alive.
 *
 * @throws RpcError `RPC_UNSUPPORTED` when this is neither a worker thread nor a child forked with an IPC channel.
 */
export function connectParent<ParentApi = unknown>(options: ConnectParentOptions = {}): Peer<ParentApi> {
  const { exitOnDisconnect = true, ...peerOptions } = options
  if (!isMainThread && parentPort !== null) {
    return createPeer<ParentApi>(new NodePortTransport(parentPort, { ownsPort: false }), peerOptions)
  }
  if (typeof process.send === 'function') {
    const peer = createPeer<ParentApi>(parentProcessTransport(), peerOptions)
    if (exitOnDisconnect) {
      peer.on('close', (info: CloseInfo) => {
        // Let the close reach every other listener before leaving.
        if (info.local !== true) setImmediate(() => process.exit())
      })
    }
    return peer
  }
  throw new RpcError(
    'connectParent() must run in a worker thread or in a child process forked with an IPC channel (child_process.fork or spawnChild)',
    ErrorCode.Unsupported,
  )
}
