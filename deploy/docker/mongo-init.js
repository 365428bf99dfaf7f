// Run once by the mongo image on an empty data volume (docker-compose.secure.yml mounts it into
// /docker-entrypoint-initdb.d): one user per centinela service, readWrite on its own database
// (centinela_<service>, the default of CENTINELA_MONGO_DB) plus centinela_intake, where the shared audit
// trail lives (shared/audit.py: audit_database), password from the mounted secrets
// (deploy/docker/make_secrets.py writes mongo/users/centinela-<service>).
const fs = require("fs");
const dir = "/run/secrets/centinela/mongo/users";
const admin = db.getSiblingDB("admin");
for (const user of fs.readdirSync(dir)) {
  const service = user.replace(/^centinela-/, "");
  const roles = [{ role: "readWrite", db: `centinela_${service}` }, { role: "readWrite", db: "centinela_intake" }];
  if (admin.getUser(user) === null) {
    admin.createUser({ user, pwd: fs.readFileSync(`${dir}/${user}`, "utf8").trim(), roles });
  }
}
