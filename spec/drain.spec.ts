import { expect } from 'chai'
import { ChannelClosedError } from '../lib/index.js'
import { deferred, pair, rejection } from './helpers.js'

describe('close({ drain })', () => {
  it('lets calls in flight both ways finish, refuses new calls, then closes both sides', async () => {
    const reply = deferred<string>()
    const handlerGate = deferred<void>()
    const slowStarted = deferred<void>()
    const localStarted = deferred<void>()
    const { left, right } = pair(
      { expose: { local: async () => (localStarted.resolve(), await handlerGate.promise, 'served') } },
      { expose: { slow: () => (slowStarted.resolve(), reply.promise) } },
    )
    await left.ready
    const rightClosed = new Promise((resolve) => right.once('close', resolve))
    const outgoing = left.call('slow')
    const incoming = right.call('local')
    await Promise.all([slowStarted.promise, localStarted.promise])
    const closed = left.close({ drain: 10_000 })
    const refused = await rejection(left.call('slow'))
    expect(refused).to.be.instanceOf(ChannelClosedError)
    expect(refused.message).to.contain('closing')
    expect(left.state).to.equal('open')
    reply.resolve('replied')
    expect(await outgoing).to.equal('replied')
    expect(left.state, 'still serving the other side').to.equal('open')
    handlerGate.resolve()
    expect(await incoming).to.equal('served')
    await closed
    expect(left.state).to.equal('closed')
    await rightClosed
    expect(right.state).to.equal('closed')
  })

  it('closes after the drain time even if work is still in flight, rejecting it', async () => {
    const { left } = pair({}, { expose: { never: () => new Promise(() => {}) } })
    await left.ready
    const stuck = rejection(left.call('never'))
    await left.close({ drain: 30 })
    expect(left.state).to.equal('closed')
    expect(await stuck).to.be.instanceOf(ChannelClosedError)
  })

  it('closes at once when nothing is in flight, and every close returns the same settled promise', async () => {
    const { left } = pair()
    await left.ready
    const first = left.close({ drain: 10_000 })
    expect(left.state).to.equal('closed')
    expect(left.close()).to.equal(first)
    await first
  })

  it('ends the drain when the other side closes meanwhile', async () => {
    const { left, right } = pair({}, { expose: { never: () => new Promise(() => {}) } })
    await left.ready
    const stuck = rejection(left.call('never'))
    const closed = left.close({ drain: 60_000 })
    right.close()
    await closed
    expect(left.state).to.equal('closed')
    expect(await stuck).to.be.instanceOf(ChannelClosedError)
  })
})
