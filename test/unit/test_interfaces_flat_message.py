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
