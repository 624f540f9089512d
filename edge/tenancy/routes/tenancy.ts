import type { EdgeApp, EdgeServices } from '../../services.js';
import { registerAdminAuditList } from './admin-audit-list.js';
import { registerAdminKeyCreate } from './admin-key-create.js';
import { registerAdminKeyGet } from './admin-key-get.js';
import { registerAdminKeyList } from './admin-key-list.js';
import { registerAdminKeyReroll } from './admin-key-reroll.js';
import { registerAdminKeyRevoke } from './admin-key-revoke.js';
import { registerAdminSessionGet } from './admin-session-get.js';
import { registerAdminSessionList } from './admin-session-list.js';
import { registerAdminSessionUpdate } from './admin-session-update.js';
import { registerKeySelfReroll } from './key-self-reroll.js';
import { registerOperatorHostDrain } from './operator-host-drain.js';
import { registerOperatorHostList } from './operator-host-list.js';
import { registerOperatorTenantCreate } from './operator-tenant-create.js';
import { registerOperatorTenantList } from './operator-tenant-list.js';
import { registerOperatorTenantResume } from './operator-tenant-resume.js';
import { registerOperatorTenantSuspend } from './operator-tenant-suspend.js';
import { registerSeedKeyList } from './seed-key-list.js';

/** The operator's tenant routes, the tenant admin's routes, and key self-service. */
export function registerTenancyRoutes(app: EdgeApp, services: EdgeServices): void {
  registerOperatorTenantCreate(app, services);
  registerOperatorTenantList(app, services);
  registerOperatorTenantSuspend(app, services);
  registerOperatorTenantResume(app, services);
  registerOperatorHostList(app);
  registerOperatorHostDrain(app, services);
  registerAdminSessionList(app, services);
  registerAdminSessionGet(app, services);
  registerAdminSessionUpdate(app, services);
  registerAdminKeyList(app, services);
  registerAdminKeyCreate(app, services);
  registerAdminKeyGet(app, services);
  registerAdminKeyRevoke(app, services);
  registerAdminKeyReroll(app, services);
  registerSeedKeyList(app, services);
  registerKeySelfReroll(app, services);
  registerAdminAuditList(app, services);
}
