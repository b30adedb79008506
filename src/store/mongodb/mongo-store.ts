export class MongoStore { static async connect(_u: string, _d: string): Promise<never> { throw new Error('not yet'); } }
