"""The ids the driver stamps on messages: unique ids from a generator the
OS seeds (and reseeds in a forked child), msg ids from the OS itself."""
import os
import uuid

from messaging import wire


def test_a_forked_child_does_not_repeat_its_parents_ids():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, (wire.unique_id() + wire.unique_uuid()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read), os.close(write)
    assert child[:32] != wire.unique_id()
    assert child[32:] != wire.unique_uuid()


def test_unique_uuid_is_a_uuid4():
    value = uuid.UUID(wire.unique_uuid())
    assert value.version == 4 and str(value) != wire.unique_uuid()


def test_random_id_is_32_lowercase_hex_from_the_os():
    assert len({wire.random_id() for _ in range(100)}) == 100
    assert all(len(v) == 32 and v == v.lower() and int(v, 16) >= 0
               for v in (wire.random_id() for _ in range(10)))


def test_unique_id_is_32_lowercase_hex_and_fresh():
    ids = {wire.unique_id() for _ in range(100)}
    assert len(ids) == 100
    for value in ids:
        assert len(value) == 32 and int(value, 16) >= 0 and value == value.lower()
