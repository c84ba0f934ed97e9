// Run once by the compose file's `mongo-init` service (mongosh --file): initiate the three-member
// replica set unless it exists, then wait until it has a primary, so the hubs start on a writable set.
const members = [
  { _id: 0, host: "mongo1:27017", priority: 2 },
  { _id: 1, host: "mongo2:27017", priority: 1 },
  { _id: 2, host: "mongo3:27017", priority: 1 },
];
try {
  rs.status();
  print("replica set rs0 already initiated");
} catch (e) {
  rs.initiate({ _id: "rs0", members: members });
  print("replica set rs0 initiated");
}
for (let i = 0; i < 120; i++) {
  const primary = rs.status().members.find((m) => m.stateStr === "PRIMARY");
  if (primary) {
    print("primary: " + primary.name);
    quit(0);
  }
  sleep(1000);
}
print("no primary after 120 s");
quit(1);
