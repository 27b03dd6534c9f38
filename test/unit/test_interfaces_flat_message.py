"""A native message kept flat gives the bytes its objects give: the mock robot's states as wire
bytes equal the serialised state objects, tick by tick, CRC (and a corrupted CRC) included."""

import pytest

from egoscale_ros.interfaces import fixed_cdr
from egoscale_ros.interfaces import unitree_idl as idl
from egoscale_ros.interfaces.flat_message import FlatMessage
from egoscale_ros.interfaces.mock_unitree import MockUnitree
from egoscale_ros.robot.config import load_robot_config


def test_slots_name_one_primitive_and_the_bytes_follow_them():
    flat = FlatMessage(idl.HgLowState(mode_machine=5))
    slot = flat.slot("motor_state", 15, "q")
    flat.values[slot] = 0.25
    msg = idl.HgLowState(mode_machine=5)
    msg.motor_state[15].q = 0.25
    assert flat.cdr() == msg.serialize()
    assert flat.c_layout() == fixed_cdr.pack(msg)
    assert len({flat.slot("motor_state", i, "q") for i in range(35)}) == 35
    with pytest.raises(KeyError, match="not one primitive"):
        flat.slot("imu_state")


def test_a_type_with_sequences_has_no_c_layout():
    flat = FlatMessage(idl.HgHandState(motor_state=[idl.HgMotorState(q=0.5)] * 7))
    assert flat.cdr() == idl.HgHandState(motor_state=[idl.HgMotorState(q=0.5)] * 7).serialize()
    with pytest.raises(TypeError, match="no fixed C layout"):
        flat.c_layout()


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_inspire", "h1_2_inspire"])
def test_the_mock_states_as_bytes_equal_its_state_objects_serialised(robot):
    config = load_robot_config(robot)
    objects, flat = MockUnitree(config), MockUnitree(config)
    for mock in (objects, flat):
        mock.corrupt_crc_every = 3
        mock.place(config.feedback[0].joints[0], 0.123)
    for _ in range(5):
        expected = [(topic, msg.serialize()) for topic, msg in objects.states()]
        assert flat.states_cdr() == expected
        for mock in (objects, flat):
            mock.joints.set_command({j: 0.2 for j in mock.joints.names})
            mock.step(0.05)
    assert expected and objects.report() == flat.report()


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_inspire"])
def test_lowstate_read_from_its_bytes_is_the_sample_of_its_object(robot):
    from egoscale_ros.interfaces import registry
    from egoscale_ros.interfaces.base import Rejected

    config = load_robot_config(robot)
    source = config.feedback[0]
    decoder = registry.feedback_decoder(source, config)
    mock = MockUnitree(config)
    mock.corrupt_crc_every = 2
    for tick in range(1, 5):
        msg = dict(mock.states())[source.topic]
        data = msg.serialize()
        if tick % 2 == 0:  # a corrupted CRC: refused the same way
            with pytest.raises(Rejected, match="bad_crc"):
                decoder.decode(msg)
            with pytest.raises(Rejected, match="bad_crc"):
                decoder.decode_cdr(data)
            continue
        # As the object the binding would have read from those bytes (positions as float32).
        assert decoder.decode_cdr(data) == decoder.decode(type(msg).deserialize(data))
    with pytest.raises(Rejected, match="malformed"):
        decoder.decode_cdr(data[:100])
    msg.motor_state[decoder.motor_index[0]].q = float("nan")
    msg.crc = 0
    decoder.verify_crc = False
    with pytest.raises(Rejected, match="non_finite"):
        decoder.decode_cdr(msg.serialize())
