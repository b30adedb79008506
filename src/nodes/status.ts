import { readEnvActions } from '../catalog/files.ts';
import type { ProcessorCatalog } from '../catalog/catalog.ts';
import type { SyncState } from '../domain/cluster.ts';
import type { Caller } from '../domain/user.ts';
import { WrongNodeError } from '../domain/errors.ts';
import type { EnvironmentService } from '../services/environments.ts';
import type { Node, Store } from '../store/types.ts';
import type { FanoutService } from './fanout.ts';
import { describeFailure, type PeerClient } from './peer-client.ts';

export interface NodeView {
  nodeCode: string;
  nodeBaseAddress: string;
  active: boolean;
  reachable: boolean;
  /** ms; when the node last answered a node-to-node call from this process */
  lastContact?: number;
  pendingDeliveries: number;
  failedDeliveries: number;
  error?: string;
}

export type NodeStep = 'in-step' | 'behind' | 'failing' | 'absent' | 'unreachable';

export interface ProcessorNodeView {
  nodeCode: string;
  state: NodeStep;
  applied?: number;
  epoch?: string;
  syncing?: boolean;
  lastSyncAt?: number;
  error?: string;
}

/** Main node: how the compute nodes are, asked live (each with the peer time limit) and from the deliveries. */
export class ClusterStatus {
  constructor(private readonly deps: { store: Store; peer: PeerClient; fanout: FanoutService; catalog: ProcessorCatalog; environments: EnvironmentService }) {}

  private async computeNodes(): Promise<Node[]> {
    if (!this.deps.environments.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'the compute nodes are listed by the main node only');
    return (await this.deps.store.listNodes()).filter((n) => n.nodeCode !== this.deps.environments.nodeCode);
  }

  async nodes(): Promise<NodeView[]> {
    const nodes = await this.computeNodes();
    return Promise.all(nodes.map(async (n) => {
      const [pending, failed] = await Promise.all([
        this.deps.store.listDeliveries({ nodeCode: n.nodeCode, states: ['pending'] }),
        this.deps.store.listDeliveries({ nodeCode: n.nodeCode, states: ['failed'] }),
      ]);
      let reachable = false;
      let error: string | undefined;
      try {
        const res = await this.deps.peer.getJson(n.nodeBaseAddress, 'cluster/ping');
        reachable = res.statusCode === 200;
        if (reachable) this.deps.fanout.noteContact(n.nodeCode);
        else error = `ping answered ${res.statusCode}`;
      } catch (err) {
        error = describeFailure(err);
      }
      const lastContact = this.deps.fanout.lastContactOf(n.nodeCode);
      return {
        nodeCode: n.nodeCode, nodeBaseAddress: n.nodeBaseAddress, active: n.active, reachable,
        ...(lastContact ? { lastContact } : {}), pendingDeliveries: pending.length, failedDeliveries: failed.length,
        ...(error ? { error } : {}),
      };
    }));
  }

  /** Each compute node's position in a processor's history against the main node's. */
  async processorNodes(caller: Caller, name: string): Promise<{ processor: string; epoch: string; lines: number; nodes: ProcessorNodeView[] }> {
    await this.deps.environments.processorForRead(caller, name);
    const nodes = (await this.computeNodes()).filter((n) => n.active);
    const lines = readEnvActions(this.deps.catalog.folderOf(name)).length;
    const epoch = await this.deps.store.findHistoryEpoch(name);
    const views = await Promise.all(nodes.map(async (n): Promise<ProcessorNodeView> => {
      try {
        const res = await this.deps.peer.getJson(n.nodeBaseAddress, `cluster/processors/${encodeURIComponent(name)}/sync`);
        if (res.statusCode === 404) return { nodeCode: n.nodeCode, state: 'absent' };
        if (res.statusCode !== 200) return { nodeCode: n.nodeCode, state: 'unreachable', error: `answered ${res.statusCode}` };
        this.deps.fanout.noteContact(n.nodeCode);
        const s = JSON.parse(res.body) as Partial<SyncState>;
        const applied = s.epoch === epoch ? s.applied ?? 0 : 0;
        const state: NodeStep = s.epoch === epoch && applied === lines ? 'in-step' : s.lastError ? 'failing' : 'behind';
        return {
          nodeCode: n.nodeCode, state, applied, ...(s.epoch !== undefined ? { epoch: s.epoch } : {}), syncing: Boolean(s.syncOperationId),
          ...(s.lastSyncAt ? { lastSyncAt: s.lastSyncAt } : {}), ...(s.lastError ? { error: s.lastError } : {}),
        };
      } catch (err) {
        return { nodeCode: n.nodeCode, state: 'unreachable', error: describeFailure(err) };
      }
    }));
    return { processor: name, epoch, lines, nodes: views };
  }
}
