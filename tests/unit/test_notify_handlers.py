"""Logging handlers that send notifications."""
from __future__ import annotations

import logging

import pytest
from oslo_config import cfg

import messaging


@pytest.fixture
def logger():
    """A private logger with no handlers that does not propagate."""
    log = logging.getLogger('test_notify_handlers.app')
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    log.handlers.clear()


def _notification_handler(**kwargs):
    class Handler(messaging.LoggingNotificationHandler):
        CONF = cfg.ConfigOpts()

    return Handler('fake://', **kwargs)


def test_logging_notification_handler_sends_a_record_at_its_level(logger, collected):
    logger.addHandler(_notification_handler(publisher_id='app', driver='test', topic='logs'))
    logger.warning('disk %s is %d%% full', 'sda', 91)
    [(ctxt, message, priority, _retry)] = collected
    assert (ctxt, priority, message['event_type']) == ({}, 'WARN', 'logrecord')
    assert message['publisher_id'] == 'app'
    payload = message['payload']
    assert payload['msg'] == 'disk sda is 91% full'
    assert (payload['levelname'], payload['levelno']) == ('WARNING', logging.WARNING)
    assert payload['name'] == 'test_notify_handlers.app'
    assert payload['exc_info'] is None
    assert set(payload) >= {'pathname', 'lineno', 'funcName', 'thread', 'processName',
                            'process', 'extra'}


def test_logging_notification_handler_formats_exceptions_as_text(logger, collected):
    logger.addHandler(_notification_handler(driver='test'))
    try:
        raise ValueError('bad value')
    except ValueError:
        logger.exception('failed')
    [(_ctxt, message, priority, _retry)] = collected
    assert priority == 'ERROR'
    assert 'ValueError: bad value' in message['payload']['exc_info']


def test_logging_notification_handler_topic_list_and_custom_level(logger):
    handler = _notification_handler(driver='noop', topic=['a', 'b'])
    assert handler.notifier._topics == ['a', 'b']
    logger.addHandler(handler)
    logger.log(25, 'a level with no notifier method is skipped')


def test_error_handler_sends_error_notifications(logger, collected):
    conf = cfg.ConfigOpts()
    messaging.get_notification_transport(conf, 'fake://')
    conf.set_override('driver', ['test'], group='oslo_messaging_notifications')
    conf.set_override('transport_url', 'fake://', group='oslo_messaging_notifications')
    logger.addHandler(messaging.LoggingErrorNotificationHandler(logging.ERROR, conf=conf))
    logger.info('below the handler level')
    logger.error('it broke: %s', 'badly')
    [(_ctxt, message, priority, _retry)] = collected
    assert (priority, message['event_type'], message['publisher_id']) == (
        'ERROR', 'error_notification', 'error.publisher')
    # The unformatted message, as oslo.messaging sends it.
    assert message['payload'] == {'error': 'it broke: %s'}


def test_error_handler_sends_nothing_when_the_log_driver_is_configured(logger, collected):
    conf = cfg.ConfigOpts()
    messaging.get_notification_transport(conf, 'fake://')
    conf.set_override('driver', ['test', 'log'], group='oslo_messaging_notifications')
    conf.set_override('transport_url', 'fake://', group='oslo_messaging_notifications')
    logger.addHandler(messaging.PublishErrorsHandler(conf=conf))
    logger.error('would loop through the log driver')
    assert collected == []


def test_publish_errors_handler_is_the_error_handler():
    assert messaging.PublishErrorsHandler is messaging.LoggingErrorNotificationHandler
