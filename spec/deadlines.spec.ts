import { expect } from 'chai'
import sinon from 'sinon'
import { Deadlines, type Timed } from '../lib/deadlines.js'

describe('deadlines (one timer for many calls)', () => {
  let clock: sinon.SinonFakeTimers
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  })
  afterEach(() => clock.restore())

  const item = (name: string): Timed & { name: string } => ({ name, deadline: 0, timeout: 0 })

  it('expires items in deadline order across different timeouts, with one timer at a time', () => {
    const expired: string[] = []
    const deadlines = new Deadlines<Timed & { name: string }>((it) => expired.push(it.name))
    deadlines.add(item('a'), 300)
    deadlines.add(item('b'), 100)
    clock.tick(50)
    deadlines.add(item('c'), 100)
    deadlines.add(item('d'), 300)
    expect(clock.countTimers()).to.equal(1)
    clock.tick(50) // t=100
    expect(expired).to.deep.equal(['b'])
    clock.tick(50) // t=150
    expect(expired).to.deep.equal(['b', 'c'])
    clock.tick(150) // t=300
    expect(expired).to.deep.equal(['b', 'c', 'a'])
    clock.tick(50) // t=350
    expect(expired).to.deep.equal(['b', 'c', 'a', 'd'])
    expect(deadlines.size).to.equal(0)
    expect(clock.countTimers()).to.equal(0)
  })

  it('never expires a deleted item, and clears the timer when the last one goes', () => {
    const expired: string[] = []
    const deadlines = new Deadlines<Timed & { name: string }>((it) => expired.push(it.name))
    const a = item('a')
    const b = item('b')
    deadlines.add(a, 100)
    deadlines.add(b, 100)
    deadlines.delete(a)
    deadlines.delete(a)
    expect(deadlines.size).to.equal(1)
    clock.tick(100)
    expect(expired).to.deep.equal(['b'])
    deadlines.add(a, 100)
    deadlines.delete(a)
    expect(clock.countTimers()).to.equal(0)
  })

  it('re-arms for an earlier deadline added later', () => {
    const expired: string[] = []
    const deadlines = new Deadlines<Timed & { name: string }>((it) => expired.push(it.name))
    deadlines.add(item('long'), 10_000)
    deadlines.add(item('short'), 10)
    clock.tick(10)
    expect(expired).to.deep.equal(['short'])
    expect(clock.countTimers()).to.equal(1)
  })
})
